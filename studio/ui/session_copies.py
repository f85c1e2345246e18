"""Gradio's per-session copies of updated components: keep each under one id, so a polling tab stops growing.

Gradio (checked on 6.31) answers `gr.update(...)` for a component by building a new component for that
browser session (`gradio.state_holder.SessionState`), stored under the original component's id but given a
fresh id of its own. The next time that component is an input of an event (or gets a plain value), Gradio
looks the copy up and, not finding the copy's fresh id, stores it a second time under that id, with a config
entry of its own (`if block._id not in state: state[block._id] = block` in `Blocks.preprocess_data` and
`postprocess_data`). The next update makes another copy, and the previous one stays under its fresh id for
as long as the session lives. Every tick of a timer whose event reads and updates the same component (the
job drawer: the job picker is the tick's input and gets `gr.update(choices=..., value=...)`) left one
component and its config behind. Measured with bench/load.py (50 tabs, two running jobs): about 2,000
dropdowns a minute (~75 per session after two minutes, none collectable: `gc.collect()` freed none) and the
server's memory rising 13-20 MB/min.

`keep_session_copy_ids()` gives a session's copy the id of the component it stands for, so Gradio finds it
under that id and adds nothing; the session's config entry for the component is updated in place.
"""

from __future__ import annotations


def keep_session_copy_ids() -> bool:
    """Patch `SessionState.__setitem__` (once per process) so a stored component copy keeps the id it is
    stored under. False where this Gradio has no `SessionState` to patch."""
    try:
        from gradio.blocks import Block
        from gradio.state_holder import SessionState
    except ImportError:
        return False
    store = SessionState.__setitem__
    if getattr(store, "keeps_copy_ids", False):
        return True

    def __setitem__(self, key, value):
        original = self.blocks_config.blocks.get(key)
        if isinstance(value, Block) and original is not None and not original.stateful and value._id != key:
            value._id = key
        store(self, key, value)

    __setitem__.keeps_copy_ids = True
    SessionState.__setitem__ = __setitem__
    return True
