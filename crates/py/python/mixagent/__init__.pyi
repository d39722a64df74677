from os import PathLike
from typing import Mapping, Optional, Sequence, Tuple, Union

__version__: str

Domains = Union[Sequence[Tuple[str, str]], Mapping[str, str]]

class MixagentError(ValueError):
    """A bad state, feedback or mixture, or a policy that cannot decide."""

class Controller:
    """A mixing policy (the trained agent or a baseline) steering one run, stage by stage."""

    def __init__(
        self,
        policy: str,
        domains: Domains,
        total_stages: int,
        tokens: Optional[dict[str, Union[int, float]]] = None,
        seed: int = 0,
    ) -> None: ...
    @staticmethod
    def load(
        artifact: Union[str, PathLike[str]],
        domains: Domains,
        total_stages: int,
        tokens: Optional[dict[str, Union[int, float]]] = None,
        seed: int = 0,
    ) -> Controller: ...
    @staticmethod
    def from_state(state: Union[str, PathLike[str]]) -> Controller: ...
    def observe(
        self,
        feedback: Mapping[str, float],
        domain_loss: Optional[Mapping[str, float]] = None,
        tokens: Union[int, float, None] = None,
    ) -> None: ...
    def record(
        self,
        weights: Mapping[str, float],
        feedback: Mapping[str, float],
        domain_loss: Optional[Mapping[str, float]] = None,
        tokens: Union[int, float, None] = None,
    ) -> None: ...
    def next_mixture(self) -> dict[str, float]: ...
    def state_json(self) -> str: ...
    def save(self, path: Union[str, PathLike[str]]) -> None: ...
    @property
    def has_base(self) -> bool: ...
    @property
    def stage(self) -> int: ...
    @property
    def total_stages(self) -> int: ...
    @property
    def policy(self) -> str: ...
    @property
    def domains(self) -> list[str]: ...
