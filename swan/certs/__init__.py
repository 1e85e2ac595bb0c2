"""The project's certificates: the local CA and what it signs, and where they are kept.

`authority` builds them (pure, `now` passed in); `files` keeps them in the state
directory's `certs/` folder and is the only module here that touches the disk.
"""
