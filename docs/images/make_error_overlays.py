"""Make the example pictures of the README's "See where the errors are" section from the built-in neuron data.

A classical baseline segments the synthetic fluorescence images (Gaussian smoothing, sigma 1 voxel, threshold
0.3): it breaks thin neurites where the signal drops and joins neurites that pass close to each other, which is
what the pictures should show. Run from the repository root::

    monai-topo make-dataset neuron --out data/neuron -n 6 --size 96 --seed 0
    python docs/images/make_error_overlays.py data/neuron

It writes the predictions to ``data/neuron/threshold/``, runs ``monai-topo evaluate --overlays
data/neuron/overlays`` on them, and copies two pictures here: ``neuron_errors.png`` (the semantic label map, as
``evaluate`` sees it) and ``neuron_instance_errors.png`` (the same prediction against the instance labels, where
joining two neurons is a merge).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from monai_topo.cli import main
from monai_topo.metrics import split_merge_counts
from monai_topo.topology import error_component_counts, topological_errors
from monai_topo.visualize import save_error_overlay, split_merge_notes

CASE, SIGMA, THRESHOLD = "case_005", 1.0, 0.3
HERE = Path(__file__).resolve().parent


def make_predictions(data: Path) -> Path:
    out = data / "threshold"
    out.mkdir(exist_ok=True)
    for path in sorted((data / "images").glob("*.nii.gz")):
        image = nib.load(str(path))
        pred = ndimage.gaussian_filter(image.get_fdata(), SIGMA) > THRESHOLD
        nib.save(nib.Nifti1Image(pred.astype(np.uint8), image.affine), str(out / path.name))
    return out


if __name__ == "__main__":
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "data/neuron")
    preds = make_predictions(data)
    overlays = data / "overlays"
    argv = ["evaluate", "--pred", str(preds), "--label", str(data / "labels"), "--out", str(data / "results.csv")]
    main(argv + ["--overlays", str(overlays), "--no-progress"])
    shutil.copy(overlays / f"{CASE}_errors.png", HERE / "neuron_errors.png")
    pred = np.asarray(nib.load(str(preds / f"{CASE}.nii.gz")).dataobj) > 0
    instances = np.asarray(nib.load(str(data / "instances" / f"{CASE}.nii.gz")).dataobj)
    errors = topological_errors(pred, instances, instance_labels=True)
    counts = error_component_counts(errors)
    title = f"{CASE}, instance labels (a merge joins two neurons)"
    notes = split_merge_notes(*split_merge_counts(pred, instances, instance_labels=True))
    save_error_overlay(
        HERE / "neuron_instance_errors.png", errors, instances > 0, pred, counts=counts, title=title, notes=notes
    )
    print(f"wrote {HERE / 'neuron_errors.png'} and {HERE / 'neuron_instance_errors.png'}")
