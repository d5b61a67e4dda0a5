"""Command line: replay recorded nights, print stored sessions, listen to a live NINA."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
