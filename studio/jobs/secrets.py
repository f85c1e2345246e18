"""Secrets a job needs (API keys) kept out of job records and logs.

They are stored encrypted (Fernet) beside the job database, under a key file readable only by the
user, and deleted when the job ends. A worker gets them through `read_secrets(job_id)`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

KEY_FILE = ".secret.key"
FOLDER = ".secrets"


def _fernet(root: Path):
    from cryptography.fernet import Fernet

    key_path = root / KEY_FILE
    if not key_path.exists():
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
    return Fernet(key_path.read_bytes())


def store_secrets(root: Path, job_id: str, values: dict[str, str]) -> None:
    values = {k: v for k, v in values.items() if v}
    if not values:
        return
    folder = root / FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    token = _fernet(root).encrypt(json.dumps(values).encode())
    fd = os.open(folder / job_id, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(token)


def read_secrets(root: Path, job_id: str) -> dict[str, str]:
    path = root / FOLDER / job_id
    if not path.exists():
        return {}
    return json.loads(_fernet(root).decrypt(path.read_bytes()))


def drop_secrets(root: Path, job_id: str) -> None:
    try:
        (root / FOLDER / job_id).unlink()
    except FileNotFoundError:
        pass
