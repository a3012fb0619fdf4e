"""Building a detector from the ``model`` section of a config, at key path ``model``, and loading
a trained one from its checkpoint."""
from __future__ import annotations

import registry


def build_detector(cfg: dict):
    """Build ``cfg`` (the config's ``model`` dict) as a detector; errors name ``model.<key>``.

    Raises:
        UnknownPartError, ConfigError, AssemblyError: see :func:`registry.build` and the
            detector's own checks.
    """
    return registry.build('detector', cfg, key='model')


def load_model(cfg, checkpoint_path: str, device: str):
    """Build the config's model and load a checkpoint's weights (weights_only, allowlisted); the
    model is moved to ``device`` and put in eval mode.

    Raises:
        FileNotFoundError, CheckpointError: see :func:`zoo.checkpoint.load_checkpoint_file`.
        ValueError: the checkpoint's keys do not fit the model (missing and unexpected named).
    """
    from zoo.checkpoint import install, load_checkpoint_file

    install()
    registry.discover()
    model = build_detector(cfg.model)
    ckpt = load_checkpoint_file(checkpoint_path)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f'checkpoint {checkpoint_path!r} does not fit the model of the config: '
                         f'missing keys {missing[:10]}{"..." if len(missing) > 10 else ""}, '
                         f'unexpected keys {unexpected[:10]}{"..." if len(unexpected) > 10 else ""}')
    return model.to(device).eval()
