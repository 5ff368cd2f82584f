"""Role checks, attached to fields as strawberry permission classes.

The county check needs the object acted on, so it lives in the services
(`Caller.require_county`), which every staff operation goes through.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from homestay.auth import Role


class _RolePermission(BasePermission):
    roles: tuple[Role, ...] = ()

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        # raises UNAUTHENTICATED for the public, FORBIDDEN for a role that may not
        info.context.caller.require(*self.roles)
        return True


# no `message`: Caller.require raises UNAUTHENTICATED or FORBIDDEN with its own words
class IsStaff(_RolePermission):
    roles = (Role.INSPECTOR, Role.BUREAU)


class IsBureau(_RolePermission):
    roles = (Role.BUREAU,)


class IsStaffOrOperator(_RolePermission):
    """Staff by county, an operator for its own homestays (checked by the service)."""

    roles = (Role.INSPECTOR, Role.BUREAU, Role.OPERATOR)


class IsBureauOrOperator(_RolePermission):
    """The bureau by county, an operator for its own homestays (checked by the service)."""

    roles = (Role.BUREAU, Role.OPERATOR)


class IsOperator(_RolePermission):
    roles = (Role.OPERATOR,)


class IsInspector(_RolePermission):
    roles = (Role.INSPECTOR,)
