"""A question waiting for the bot, and how it is kept in the database while it waits.

The queue lives in the ``jobs`` table (``bot/schema/003_jobs.sql``), so a bot that is killed —
``SIGKILL``, a crash, a reboot — finds on its next start the questions it had accepted and
answers them in the same chats. Delivering needs the Telegram chat and user ids, which
Parallax never stores in the clear (the database keeps only keyed references): a job's
delivery details are sealed with AES-GCM (the ``cryptography`` package) under a key derived
from the id key file, and bound to the job's user and chat references, so a copy of the
database alone does not say who waits for what, and a sealed blob moved to another row does
not open. A job is deleted once it is delivered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: the sealed format's version byte
_VERSION = b"\x01"
#: the seal's key is derived from the id key with this label (the id key itself makes
#: references; one key, two uses, kept apart)
_LABEL = b"parallax job seal v1"


@dataclass
class Job:
    chat_id: int
    chat_type: str
    user_id: int
    text: str
    ui: str
    reply_to: int | None
    models: list[str] | None = None
    profile: str | None = None
    #: the job's row in the database, once stored
    job_id: int | None = field(default=None, compare=False)
    #: the question stored for it when it last ran (a restart resumes that question)
    question_id: int | None = field(default=None, compare=False)
    #: picked up again after the bot stopped while answering it
    resumed: bool = field(default=False, compare=False)

    _SEALED = ("chat_id", "chat_type", "user_id", "text", "ui", "reply_to", "models",
               "profile")


class SealError(ValueError):
    """A sealed job does not open: another id key, or the row was tampered with."""


class Sealer:
    def __init__(self, id_key: bytes) -> None:
        self._aead = AESGCM(hmac.new(id_key, _LABEL, hashlib.sha256).digest())

    def seal(self, job: Job, user_ref: str, chat_ref: str) -> bytes:
        data = {k: v for k, v in asdict(job).items() if k in Job._SEALED}
        nonce = os.urandom(12)
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        return _VERSION + nonce + self._aead.encrypt(nonce, body, _bound(user_ref, chat_ref))

    def open(self, sealed: bytes, user_ref: str, chat_ref: str) -> Job:
        if not sealed.startswith(_VERSION) or len(sealed) < 1 + 12 + 16:
            raise SealError("not a sealed job")
        nonce, body = sealed[1:13], sealed[13:]
        try:
            data = json.loads(self._aead.decrypt(nonce, body, _bound(user_ref, chat_ref)))
        except InvalidTag:
            raise SealError("the job does not open with this id key") from None
        return Job(**{k: data.get(k) for k in Job._SEALED})


def _bound(user_ref: str, chat_ref: str) -> bytes:
    return f"{user_ref}\n{chat_ref}".encode()
