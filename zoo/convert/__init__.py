"""Converting other toolboxes' weights into zoo checkpoints."""
from .torchvision_frcnn import convert_file, convert_state_dict, coco80_indices

__all__ = ['convert_file', 'convert_state_dict', 'coco80_indices']
