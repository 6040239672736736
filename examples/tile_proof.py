"""Prove and verify one tile edit on a real photo (the README's example, runnable).

    python examples/tile_proof.py
"""

import warnings

import numpy as np

import zkimg
from zkimg import hazmat  # the parts below the recipe: one tile job, no camera or bundle
from zkimg.demo import load_photo

warnings.simplefilter("ignore", zkimg.DevelopmentSRSWarning)  # demo only: never ignore this in production

photo = load_photo()                                  # bundled 128×128 real photo
img = np.ascontiguousarray(photo[40:56, 50:66])       # one 16×16 RGB tile
pipe = zkimg.Pipeline([zkimg.Crop(left=2, top=1, width=12, height=12),
                       zkimg.Grayscale()])
out = pipe.apply(img)                                 # exact integer reference

job = hazmat.TileJob(pipe, img.shape)
proved = hazmat.prove_tile(job, img)                  # hidden input, fresh salt
c_in = hazmat.commit(img, proved.salt)                # what the camera would sign
result = hazmat.verify_tile(proved.proof, job, input_commitment=c_in, output=out)
print(f"verified {job.output_shape} output of pipeline {pipe.digest[:16]}… "
      f"(development SRS: {result.development_srs}); proof {len(proved.proof.proof)} bytes")
