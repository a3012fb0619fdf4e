"""A pipeline: transforms built from configs (key paths ``pipeline.0``, ``pipeline.1``, ...)
and applied in order to a results dict."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

from registry import TRANSFORMS, build
from registry.errors import ConfigError


@TRANSFORMS.register_module()
class Compose:
    """Apply transforms one after the other.

    Args:
        transforms: each a config dict (``type`` naming a registered transform) or a callable
            taking and returning a results dict. A dict is built with
            ``build('transform', cfg, key=f'{key}.{i}')``, so errors name e.g. ``pipeline.2``.
        key: the config key of the list, for messages.

    Calling returns the last transform's output, or None as soon as one transform returns None
    (mmengine's convention for "drop this sample").

    Raises:
        ConfigError: an item is neither a dict nor callable; or the transform config is invalid
            (unknown type, unknown argument), with its key path.
    """

    def __init__(self, transforms: Optional[Sequence[Union[dict, Callable]]] = (),
                 key: str = 'pipeline'):
        if transforms is None:
            transforms = ()
        if isinstance(transforms, (dict, str)) or not isinstance(transforms, Sequence):
            raise ConfigError(f'{key} must be a list of transform configs, got {transforms!r}')
        self.transforms: list[Callable] = []
        for i, t in enumerate(transforms):
            if isinstance(t, dict):
                t = build('transform', t, key=f'{key}.{i}')
            elif not callable(t):
                raise ConfigError(f'{key}.{i} must be a transform config (a dict with `type`) or '
                                  f'a callable, got {t!r}')
            self.transforms.append(t)

    def __call__(self, results: Any) -> Any:
        for t in self.transforms:
            results = t(results)
            if results is None:
                return None
        return results

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        inner = ''.join(f'\n    {t!r},' for t in self.transforms)
        return f'Compose([{inner}\n])' if inner else 'Compose([])'
