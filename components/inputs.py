"""`Input[T]`: what `Input[T]` means (a value, an awaitable or an Output of it), written
without `pulumi.Input`'s forward reference ('Output[T]'), which `typing.get_type_hints` cannot
resolve from any module but Pulumi's own: with this, every `*Args` type of the library resolves."""

from collections.abc import Awaitable
from typing import TypeVar, Union

import pulumi

T = TypeVar("T")
Input = Union[T, Awaitable[T], pulumi.Output[T]]
