//! Resampling grayscale images: area averaging to shrink, bilinear interpolation to enlarge.
//!
//! Each axis is resampled separately. Shrinking an axis averages the input pixels an output pixel
//! covers, weighted by overlap (box filter: no aliasing, and exact when the ratio is an integer);
//! enlarging interpolates linearly between pixel centres (half-pixel convention, edges clamped).
//! Interpolation never leaves the input's value range.

use crate::gray::SourceImage;

/// Resamples `image` to `height × width`.
pub fn resize(image: &SourceImage, height: usize, width: usize) -> SourceImage {
    if image.height == height && image.width == width {
        return image.clone();
    }
    let wx = axis_weights(image.width, width);
    let wy = axis_weights(image.height, height);
    let pixels = (0..image.channels)
        .flat_map(|c| resize_plane(image.plane(c), image.width, image.height, &wx, &wy))
        .collect();
    SourceImage {
        channels: image.channels,
        width,
        height,
        pixels,
    }
}

/// Resamples one `[in_h, in_w]` plane with the axis weights of [`resize`].
fn resize_plane(
    plane: &[f32],
    in_w: usize,
    in_h: usize,
    wx: &[Vec<(usize, f32)>],
    wy: &[Vec<(usize, f32)>],
) -> Vec<f32> {
    let (width, height) = (wx.len(), wy.len());
    // Rows first: [in_h, in_w] → [in_h, width].
    let mut rows = vec![0.0f32; in_h * width];
    for y in 0..in_h {
        let src = &plane[y * in_w..(y + 1) * in_w];
        for (x, taps) in wx.iter().enumerate() {
            rows[y * width + x] = taps.iter().map(|&(i, w)| src[i] * w).sum();
        }
    }
    // Then columns: [in_h, width] → [height, width].
    let mut pixels = vec![0.0f32; height * width];
    for (y, taps) in wy.iter().enumerate() {
        let out = &mut pixels[y * width..(y + 1) * width];
        for &(i, w) in taps {
            for (o, &v) in out.iter_mut().zip(&rows[i * width..(i + 1) * width]) {
                *o += v * w;
            }
        }
    }
    pixels
}

/// For each output position, the input positions and weights (summing to 1) it is made of.
fn axis_weights(input: usize, output: usize) -> Vec<Vec<(usize, f32)>> {
    let ratio = input as f64 / output as f64;
    (0..output)
        .map(|o| {
            if input == output {
                vec![(o, 1.0)]
            } else if output < input {
                // Area: input interval [o·ratio, (o+1)·ratio).
                let (start, end) = (o as f64 * ratio, (o + 1) as f64 * ratio);
                let mut taps = Vec::new();
                let mut i = start.floor() as usize;
                while (i as f64) < end && i < input {
                    let overlap = end.min(i as f64 + 1.0) - start.max(i as f64);
                    if overlap > 0.0 {
                        taps.push((i, (overlap / ratio) as f32));
                    }
                    i += 1;
                }
                taps
            } else {
                // Bilinear between the two nearest input centres.
                let centre = ((o as f64 + 0.5) * ratio - 0.5).clamp(0.0, (input - 1) as f64);
                let i0 = centre.floor() as usize;
                let frac = (centre - i0 as f64) as f32;
                if frac == 0.0 || i0 + 1 >= input {
                    vec![(i0, 1.0)]
                } else {
                    vec![(i0, 1.0 - frac), (i0 + 1, frac)]
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn image(width: usize, height: usize, pixels: Vec<f32>) -> SourceImage {
        SourceImage::gray(width, height, pixels)
    }

    #[test]
    fn halving_averages_blocks() {
        let img = image(4, 2, vec![0.0, 1.0, 0.5, 0.5, 1.0, 0.0, 0.0, 1.0]);
        assert_eq!(resize(&img, 1, 2).pixels, vec![0.5, 0.5]);
    }

    #[test]
    fn doubling_interpolates() {
        let img = image(2, 1, vec![0.0, 1.0]);
        assert_eq!(resize(&img, 1, 4).pixels, vec![0.0, 0.25, 0.75, 1.0]);
    }

    #[test]
    fn same_size_is_identity() {
        let img = image(2, 2, vec![0.1, 0.2, 0.3, 0.4]);
        assert_eq!(resize(&img, 2, 2), img);
    }

    proptest! {
        #[test]
        fn constant_images_stay_constant(w in 1usize..20, h in 1usize..20, ow in 1usize..40, oh in 1usize..40, v in 0.0f32..=1.0) {
            let out = resize(&image(w, h, vec![v; w * h]), oh, ow);
            prop_assert_eq!(out.pixels.len(), oh * ow);
            for p in out.pixels {
                prop_assert!((p - v).abs() < 1e-5);
            }
        }

        #[test]
        fn values_stay_in_range(pixels in proptest::collection::vec(0.0f32..=1.0, 30), ow in 1usize..20, oh in 1usize..20) {
            let out = resize(&image(6, 5, pixels), oh, ow);
            prop_assert!(out.pixels.iter().all(|&p| (-1e-5..=1.0 + 1e-5).contains(&p)));
        }
    }
}
