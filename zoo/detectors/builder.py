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
        ConfigError: the checkpoint holds another model (:func:`zoo.identity.check_checkpoint`
            names the file, the config and the differing keys).
    """
    from zoo.checkpoint import install, load_checkpoint_file
    from zoo.identity import check_checkpoint

    install()
    registry.discover()
    model = build_detector(cfg.model)
    ckpt = load_checkpoint_file(checkpoint_path)
    state = check_checkpoint(ckpt, cfg, model, checkpoint_path)
    model.load_state_dict({k.removeprefix('module.'): v for k, v in state.items()})
    return model.to(device).eval()
