"""What a detector gets wrong: precision-recall curves, the confusion matrix, the TIDE error
breakdown and galleries of its worst images (``zoo analyze``), and the curves of logged scalars
(``zoo plot``). docs/analysis.md explains each output."""
from .confusion import confusion_matrix, confusion_to_json
from .pr_curve import RECALL_POINTS, average_precision, pr_curves
from .records import dataset_records, join_results, read_results
from .scalars import available_keys, plot_scalars, read_scalars, scalar_curve
from .tide import ERROR_TYPES, TideResult, tide_errors

__all__ = ['confusion_matrix', 'confusion_to_json', 'RECALL_POINTS', 'average_precision',
           'pr_curves', 'dataset_records', 'join_results', 'read_results', 'available_keys',
           'plot_scalars', 'read_scalars', 'scalar_curve', 'ERROR_TYPES', 'TideResult',
           'tide_errors']
