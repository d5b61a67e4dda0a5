"""Home Assistant API compatibility check for the nina_session integration.

`python -m tools.compat` collects every `homeassistant.*` name our integration uses (by static
analysis, nothing is imported) and checks it against the sources of Home Assistant releases
downloaded as wheels from the package index: the name exists, our call fits its signature, and
it is not deprecated.
"""
