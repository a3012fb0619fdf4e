"""A pipeline: transforms built from configs (key paths ``pipeline.0``, ``pipeline.1``, ...)
and applied in order to a results dict.

A transform that mixes several samples (``Mosaic``) has a ``get_indexes(dataset)`` method: the
pipeline asks it which other samples of the dataset it needs, runs each of them through the
transforms *before* it (e.g. ``LoadImageFromFile``) and hands them over as
``results['mix_results']`` (mmdet's ``MultiImageMixDataset`` protocol, without the wrapper
dataset: the dataset passes itself to its pipeline).
"""
from __future__ import annotations

import functools
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

    Calling ``pipeline(results, dataset=None)`` returns the last transform's output, or None as
    soon as one transform returns None (mmengine's convention for "drop this sample").

    Mixing transforms (those with a ``get_indexes(dataset)`` method, e.g. ``Mosaic``):
    ``get_indexes`` returns the indexes of the other samples to mix in, or None to leave this
    sample alone (its ``prob`` coin); each index ``j`` becomes
    ``dataset.load_mix_sample(j, prefix)``, the results dict of sample ``j`` through the
    transforms before the mixing one, and the list is put in ``results['mix_results']``.

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

    def __call__(self, results: Any, dataset: Any = None) -> Any:
        return self._run(self.transforms, results, dataset)

    def _run(self, transforms: Sequence[Callable], results: Any, dataset: Any) -> Any:
        for k, t in enumerate(transforms):
            get_indexes = getattr(t, 'get_indexes', None)
            if get_indexes is not None:
                if dataset is None or not hasattr(dataset, 'load_mix_sample'):
                    raise ConfigError(
                        f'{type(t).__name__} mixes several samples of a dataset: it works only in '
                        f"a dataset's pipeline (train_dataloader.dataset.pipeline), but this "
                        f'pipeline was called without a dataset')
                indexes = get_indexes(dataset)
                if indexes is None:  # the transform leaves this sample alone
                    continue
                prefix = functools.partial(self._run, transforms[:k])
                results['mix_results'] = [dataset.load_mix_sample(int(j), prefix)
                                          for j in indexes]
            results = t(results)
            if results is None:
                return None
        return results

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        inner = ''.join(f'\n    {t!r},' for t in self.transforms)
        return f'Compose([{inner}\n])' if inner else 'Compose([])'
