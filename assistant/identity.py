"""Who is asking: the verified caller whose groups build the retrieval filter."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.documents import COMBINED

EVERYONE = "everyone"


@dataclass(frozen=True)
class Caller:
    user_id: str
    role: str = "employee"  # "employee", "agent", "admin"
    groups: tuple[str, ...] = ()
    unrestricted: bool = False  # the operator on the command line sees every document

    @property
    def acl_groups(self) -> tuple[str, ...] | None:
        """The groups whose documents this caller may see (``None``: no filter at all).

        Everybody is in ``everyone``. Built from the verified identity on the server, never
        from anything the client claims; a combined group (``agents+hr``) is only ever derived
        by the server, so one among the caller's own groups does not count.
        """
        if self.unrestricted:
            return None
        return tuple(sorted({EVERYONE, *(g for g in self.groups if COMBINED not in g)}))


OPERATOR = Caller(user_id="operator", role="admin", unrestricted=True)
