"""Media types of the files ML and EO projects hold, for asset ``type``s."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
GEOTIFF = "image/tiff; application=geotiff"

BY_SUFFIX = {
    ".onnx": "application/octet-stream; framework=onnx; profile=onnx",
    ".pt": "application/octet-stream; framework=pytorch; profile=pytorch",
    ".pth": "application/octet-stream; framework=pytorch; profile=pytorch",
    ".safetensors": "application/octet-stream; framework=pytorch; profile=safetensors",
    ".h5": "application/x-hdf5",
    ".keras": "application/octet-stream; framework=tensorflow; profile=keras",
    ".pb": "application/octet-stream; framework=tensorflow; profile=saved-model",
    ".pkl": "application/octet-stream; framework=scikit-learn; profile=pickle",
    ".joblib": "application/octet-stream; framework=scikit-learn; profile=joblib",
    ".tif": GEOTIFF,
    ".tiff": GEOTIFF,
    ".cog": COG,
    ".parquet": "application/vnd.apache.parquet",
    ".geoparquet": "application/vnd.apache.parquet",
    ".zarr": "application/vnd+zarr",
    ".nc": "application/netcdf",
    ".geojson": "application/geo+json",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".csv": "text/csv",
    ".md": "text/markdown",
    ".zip": "application/zip",
    ".tar.gz": "application/gzip",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".ipynb": "application/x-ipynb+json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
}


def media_type(path: str) -> str | None:
    name = PurePosixPath(path).name.lower()
    for suffix in sorted(BY_SUFFIX, key=len, reverse=True):
        if name.endswith(suffix):
            return BY_SUFFIX[suffix]
    guessed, _ = mimetypes.guess_type(name)
    return guessed
