"""Proof that a run never touches the network: an audit hook refusing Python socket use.

Patient photos never leave the machine. The hook sees every socket created, connected, bound or
resolved through Python (``socket``, ``urllib``, ``http``, ``multiprocessing`` listeners...) and
both raises and records, so a library that swallows the error is still caught at exit. Native
code (C++ inside Qt or torch) is invisible to it: ``make package-test`` adds a run in a network
namespace without interfaces (``unshare -n``) for that.

Audit hooks cannot be removed once added; install it only in a process that should stay offline.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

# socket.__new__ is left out: socketpair() (asyncio's self-pipe) is local and harmless; opening a
# connection always passes through one of these.
BLOCKED_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    }
)


class NetworkUseError(PermissionError):
    """Raised inside the offending call: PoxScreen must not use the network."""


@dataclass
class NetworkGuard:
    """Records (and refuses) blocked socket events for the rest of the process."""

    violations: list[str] = field(default_factory=list)

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event in BLOCKED_EVENTS:
            detail = f"{event}{args!r}"
            self.violations.append(detail)
            raise NetworkUseError(f"network use refused (offline app): {detail}")

    @classmethod
    def install(cls) -> NetworkGuard:
        """Add the hook to this process (irreversibly) and return it."""
        guard = cls()
        sys.addaudithook(guard)
        return guard

    def describe(self) -> str:
        """One readable block listing every refused network call."""
        lines = [f"NETWORK USE DETECTED ({len(self.violations)} call(s)):"]
        lines += [f"  {v}" for v in self.violations]
        return "\n".join(lines)
