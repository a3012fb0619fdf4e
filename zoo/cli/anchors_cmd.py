"""``zoo anchors CONFIG [--k 9] [--seed 0] [--split train] [--thr 0.5] [--write OUT_CONFIG]``:
fit anchors to the config's training boxes by k-means with the distance 1 - IoU (YOLOv2)."""
from __future__ import annotations

import os

from .config_cmd import add_cfg_options


def add_parsers(sub, common) -> None:
    p = sub.add_parser(
        'anchors', parents=[common], help='fit k-means anchors to a dataset\'s boxes',
        description='Cluster the (w, h) of the training boxes of CONFIG (scaled as its training '
                    'pipeline resizes the images) by k-means with the distance 1 - IoU (YOLOv2, '
                    '"Dimension Clusters"); print the anchors sorted by area, their mean IoU with '
                    'the boxes and the best possible recall (the fraction of boxes whose best '
                    'anchor has IoU >= --thr, shapes aligned at their centres), the same for the '
                    'config\'s own anchors, and with --write a config that inherits CONFIG and '
                    'sets the anchors of its YOLOAnchorGenerator.')
    p.add_argument('config')
    p.add_argument('--k', type=int, default=9, help='number of anchors (default 9, YOLOv3)')
    p.add_argument('--seed', type=int, default=0, help='seed of the k-means++ seeding (default 0)')
    p.add_argument('--split', default='train', help='dataset split to read (default train)')
    p.add_argument('--thr', type=float, default=0.5,
                   help='IoU threshold of the best possible recall (default 0.5)')
    p.add_argument('--centroid', choices=['mean', 'median'], default='mean',
                   help='cluster centre: mean (k-means, default) or median')
    p.add_argument('--max-iter', type=int, default=300, help='at most this many iterations')
    p.add_argument('--write', metavar='OUT_CONFIG',
                   help='write a config inheriting CONFIG with these anchors (YOLO configs)')
    add_cfg_options(p)
    p.set_defaults(func=run)


def _config_anchors(cfg):
    """(key path, type, (K, 2) float array) of each anchor scheme of the model, built."""
    from zoo.anchors import config_anchor_shapes
    return config_anchor_shapes(cfg)


def run(args) -> int:
    from registry import ConfigError
    from zoo.anchors import anchor_config_text, anchor_stats, box_sizes_from_config, kmeans_anchors
    from zoo.config import load_config

    if args.k < 1:
        raise ConfigError(f'--k must be a positive number of anchors, got {args.k}')
    if not 0 < args.thr <= 1:
        raise ConfigError(f'--thr must be an IoU in (0, 1], got {args.thr}')
    cfg = load_config(args.config, args.cfg_options)
    wh, how = box_sizes_from_config(cfg, args.split)
    try:
        fit = kmeans_anchors(wh, k=args.k, seed=args.seed, max_iter=args.max_iter, thr=args.thr,
                             centroid=args.centroid)
    except ValueError as err:
        raise ConfigError(f'zoo anchors: {err}') from None
    print(f'{fit.num_boxes} boxes of split {args.split!r}; {how}')
    print(f'k-means with distance 1 - IoU: k={args.k}, seed={args.seed}, {args.centroid} centroids, '
          f'{fit.iterations} iterations')
    print('anchors (w x h, pixels, by area): '
          + '  '.join(f'{w}x{h}' for w, h in fit.rounded()))
    print(f'mean IoU {fit.mean_iou:.4f}   best possible recall (IoU >= {args.thr:g}) {fit.bpr:.4f}')
    for path, kind, anchors in _config_anchors(cfg):
        mean_iou, bpr = anchor_stats(wh, anchors, args.thr)
        print(f'the config\'s {path} ({kind}, {len(anchors)} anchors): mean IoU {mean_iou:.4f}   '
              f'best possible recall {bpr:.4f}')
    if args.write:
        comment = (f'Anchors fitted by `zoo anchors {args.config} --k {args.k} --seed {args.seed} '
                   f'--split {args.split}`:\nk-means with distance 1 - IoU on {fit.num_boxes} boxes; '
                   f'mean IoU {fit.mean_iou:.4f}, best possible recall (IoU >= {args.thr:g}) '
                   f'{fit.bpr:.4f}.')
        model = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(cfg.model)
        text = anchor_config_text(args.config, args.write, model, fit.rounded(), comment)
        folder = os.path.dirname(os.path.abspath(args.write))
        os.makedirs(folder, exist_ok=True)
        with open(args.write, 'w') as f:
            f.write(text)
        print(f'wrote {args.write}')
    return 0
