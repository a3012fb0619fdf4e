"""The fixture of this folder: VOC, COCO and YOLO folders made from a few BCCD images."""
import pytest

from own_data_folders import MAKERS


@pytest.fixture
def make_dataset(tmp_path):
    """make_dataset('voc' | 'coco' | 'yolo', name=None, **kw) -> the folder's Path."""
    def make(fmt, name=None, **kw):
        return MAKERS[fmt](tmp_path / (name or fmt), **kw)
    return make

