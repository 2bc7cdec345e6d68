"""Smooth spatial random fields: FFT-filtered white noise on a coarse raster, read at cells.

A field is white noise on a raster (``raster_m`` metres per pixel) convolved with a
Gaussian kernel of standard deviation ``scale_m`` metres, rescaled to unit standard
deviation over the raster and bilinearly interpolated to the cell centres. The raster
is padded so that the periodic FFT convolution does not wrap across the region.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, ndimage

MAX_SCALE_M = 5_000.0  # largest kernel sd the padding is sized for


class FieldMaker:
    """Draw smooth fields over a fixed set of cell centres (x, y in metres)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, raster_m: float) -> None:
        pad = 3.0 * MAX_SCALE_M
        self.raster_m = float(raster_m)
        self.x0 = float(np.min(x)) - pad
        self.y0 = float(np.min(y)) - pad
        nx = int(np.ceil((float(np.max(x)) + pad - self.x0) / raster_m)) + 1
        ny = int(np.ceil((float(np.max(y)) + pad - self.y0) / raster_m)) + 1
        self.shape = (fft.next_fast_len(ny, real=True), fft.next_fast_len(nx, real=True))
        self.coords = np.vstack([(np.asarray(y) - self.y0) / raster_m, (np.asarray(x) - self.x0) / raster_m])
        self._freq2 = self._squared_frequencies()

    def _squared_frequencies(self) -> np.ndarray:
        ky = fft.fftfreq(self.shape[0]).astype(np.float32)[:, None]
        kx = fft.rfftfreq(self.shape[1]).astype(np.float32)[None, :]
        return ky**2 + kx**2

    def _gaussian(self, scale_m: float) -> np.ndarray:
        sigma_px = scale_m / self.raster_m
        return np.exp(np.float32(-2.0 * np.pi**2 * sigma_px**2) * self._freq2)

    def raster(self, rng: np.random.Generator, scale_m: float, highpass_m: float | None = None) -> np.ndarray:
        """A unit-sd smooth raster with Gaussian kernel sd ``scale_m`` metres.

        With ``highpass_m``, variation at scales beyond about that many metres is removed
        (difference of Gaussians), so the field averages out over a city or region.
        """
        if not 0 < scale_m <= MAX_SCALE_M:
            raise ValueError(f"field scale {scale_m} m outside (0, {MAX_SCALE_M}]")
        noise = rng.standard_normal(self.shape, dtype=np.float32)
        kernel = self._gaussian(scale_m)
        if highpass_m is not None:
            kernel = kernel * (1.0 - self._gaussian(highpass_m))
        smooth = fft.irfft2(fft.rfft2(noise, workers=2) * kernel, s=self.shape, workers=2)
        return (smooth - smooth.mean()) / smooth.std()

    def at_cells(self, raster: np.ndarray) -> np.ndarray:
        """Bilinear interpolation of a raster at the cell centres."""
        return ndimage.map_coordinates(raster, self.coords, order=1, mode="nearest").astype(np.float32)

    def field(self, rng: np.random.Generator, scale_m: float, highpass_m: float | None = None) -> np.ndarray:
        """A smooth field of unit sd (over the raster) at the cell centres."""
        return self.at_cells(self.raster(rng, scale_m, highpass_m))

    def smoothed(self, values: np.ndarray, x: np.ndarray, y: np.ndarray, scale_m: float) -> np.ndarray:
        """Gaussian-smoothed density of point ``values`` (per raster pixel), read at the cells."""
        iy = np.clip(np.round((y - self.y0) / self.raster_m).astype(np.int64), 0, self.shape[0] - 1)
        ix = np.clip(np.round((x - self.x0) / self.raster_m).astype(np.int64), 0, self.shape[1] - 1)
        grid = np.bincount(iy * self.shape[1] + ix, weights=values, minlength=self.shape[0] * self.shape[1])
        grid = ndimage.gaussian_filter(grid.reshape(self.shape).astype(np.float32), scale_m / self.raster_m, mode="constant")
        return self.at_cells(grid)
