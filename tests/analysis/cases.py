"""Hand-made detections and ground truth for the analysis tests (imported by path-free name:
pytest puts this folder on sys.path)."""
import numpy as np

A, B = 0, 1


def record(gt, dets, img_id='img0', ignore=None):
    """A record of one image: ``gt`` [(label, box)], ``dets`` [(label, score, box)]."""
    return dict(img_id=img_id, img_path=f'{img_id}.jpg', ori_shape=(200, 200),
                gt_bboxes=np.array([b for _, b in gt], dtype=np.float64).reshape(-1, 4),
                gt_labels=np.array([c for c, _ in gt], dtype=np.int64),
                gt_ignore=np.zeros(len(gt), dtype=bool) if ignore is None else np.array(ignore),
                bboxes=np.array([b for _, _, b in dets], dtype=np.float64).reshape(-1, 4),
                scores=np.array([s for _, s, _ in dets], dtype=np.float64),
                labels=np.array([c for c, _, _ in dets], dtype=np.int64))


# Every TIDE error type once (boxes 10 x 10; [x, x + 5] overlaps [x + 5, x + 15] with IoU 1/3):
#   g0 A [0,0,10,10]     found by d0 (A .90); d1 (A .80, same box) is a duplicate
#   g1 A [20,0,30,10]    d2 (B .70, same box): classification error
#   g2 B [40,0,50,10]    d3 (B .60, [45,0,55,10], IoU 1/3): localization error
#   g3 B [60,0,70,10]    found by d6 (B .95); d4 (A .95, [65,0,75,10], IoU 1/3): both
#   g4 A [80,0,90,10]    found by d7 (A .30)
#   g5 B [120,0,130,10]  missed
#   d5 (B .97, [100,100,110,110]) overlaps nothing: background
GT = [(A, [0, 0, 10, 10]), (A, [20, 0, 30, 10]), (B, [40, 0, 50, 10]), (B, [60, 0, 70, 10]),
      (A, [80, 0, 90, 10]), (B, [120, 0, 130, 10])]
DETS = [(A, .90, [0, 0, 10, 10]),        # d0 TP g0
        (A, .80, [0, 0, 10, 10]),        # d1 duplicate
        (B, .70, [20, 0, 30, 10]),       # d2 cls -> g1
        (B, .60, [45, 0, 55, 10]),       # d3 loc -> g2
        (A, .95, [65, 0, 75, 10]),       # d4 both (IoU 1/3 with g3, class B)
        (B, .97, [100, 100, 110, 110]),  # d5 background
        (B, .95, [60, 0, 70, 10]),       # d6 TP g3
        (A, .30, [80, 0, 90, 10])]       # d7 TP g4
