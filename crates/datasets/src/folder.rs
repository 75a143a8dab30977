//! An image folder: one sub-folder per class holding PNG or JPEG files.
//!
//! ```text
//! root/
//!   cat/   a.png b.jpg ...
//!   dog/   c.jpeg ...
//! ```
//! Classes are the sub-folders in byte order of their names, images the files in byte order of
//! theirs, so the same folder always gives the same classes and samples. A folder holding at
//! least one colour image is an RGB source (3 channels; grayscale files in it are repeated into
//! RGB); a folder of grayscale files only is a 1-channel source. Tasks convert to the channels
//! they ask for ([`crate::TaskSpec::channels`]). Entries whose name starts with `.`, files other than `.png`/`.jpg`/`.jpeg`
//! (any case) and plain files directly under the root are ignored.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::gray::SourceImage;
use crate::source::{Source, SourceSpec};

/// Images of a folder, decoded once into memory (8 bits per channel).
#[derive(Debug)]
pub struct FolderSource {
    spec: SourceSpec,
    class_names: Vec<String>,
    /// 1 or 3.
    channels: usize,
    images: Vec<Vec<image::DynamicImage>>,
    files: Vec<Vec<PathBuf>>,
}

impl FolderSource {
    /// Reads every image under `root`.
    ///
    /// Errors: the folder is missing or unreadable, has fewer than 2 class folders, a class
    /// folder holds no image, or an image cannot be decoded (the error names the file).
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::BadFolder {
                path: root.to_path_buf(),
                message: "image folder does not exist".into(),
            });
        }
        let class_dirs: Vec<PathBuf> = sorted_entries(root)?
            .into_iter()
            .filter(|p| p.is_dir())
            .collect();
        if class_dirs.len() < 2 {
            return Err(Error::BadFolder {
                path: root.to_path_buf(),
                message: format!("found {} class sub-folders, need at least 2 (one sub-folder of images per class)", class_dirs.len()),
            });
        }
        let mut class_names = Vec::with_capacity(class_dirs.len());
        let mut images = Vec::with_capacity(class_dirs.len());
        let mut class_files = Vec::with_capacity(class_dirs.len());
        for dir in &class_dirs {
            let files: Vec<PathBuf> = sorted_entries(dir)?
                .into_iter()
                .filter(|p| p.is_file() && is_image_file(p))
                .collect();
            if files.is_empty() {
                return Err(Error::BadFolder {
                    path: dir.clone(),
                    message: "class folder holds no .png/.jpg/.jpeg image".into(),
                });
            }
            let class_images = files
                .iter()
                .map(|f| decode(f))
                .collect::<Result<Vec<_>>>()?;
            class_names.push(
                dir.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            );
            images.push(class_images);
            class_files.push(files);
        }
        let colour = images.iter().flatten().any(|i| i.color().has_color());
        Ok(Self {
            spec: SourceSpec::Folder {
                path: root.to_path_buf(),
            },
            class_names,
            channels: if colour { 3 } else { 1 },
            images,
            files: class_files,
        })
    }
}

impl Source for FolderSource {
    fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn num_samples(&self, class: usize) -> usize {
        self.images[class].len()
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn class_origin(&self, class: usize) -> String {
        format!(
            "{} files in {}",
            self.files[class].len(),
            self.class_names[class]
        )
    }

    fn image(&self, class: usize, sample: usize) -> Result<SourceImage> {
        let img = &self.images[class][sample];
        let (width, height) = (img.width() as usize, img.height() as usize);
        if self.channels == 1 {
            let luma = img.to_luma8();
            return Ok(SourceImage::gray(
                width,
                height,
                luma.as_raw()
                    .iter()
                    .map(|&v| f32::from(v) / 255.0)
                    .collect(),
            ));
        }
        let rgb = img.to_rgb8();
        let plane = width * height;
        let mut pixels = vec![0.0f32; 3 * plane];
        for (i, px) in rgb.as_raw().chunks_exact(3).enumerate() {
            for c in 0..3 {
                pixels[c * plane + i] = f32::from(px[c]) / 255.0;
            }
        }
        Ok(SourceImage {
            channels: 3,
            width,
            height,
            pixels,
        })
    }
}

/// Non-hidden entries of `dir`, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let io_err = |e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            entries.push(entry.path());
        }
    }
    entries.sort();
    Ok(entries)
}

fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

fn decode(path: &Path) -> Result<image::DynamicImage> {
    let reader = image::ImageReader::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let reader = reader.with_guessed_format().map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let img = reader.decode().map_err(|e| Error::Image {
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh empty folder under the system temp dir.
    pub(crate) fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("datasets-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_png(path: &Path, value: u8) {
        image::GrayImage::from_pixel(3, 2, image::Luma([value]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn reads_classes_in_name_order() {
        let root = temp_dir("folder-ok");
        for (class, value) in [("b", 255u8), ("a", 0)] {
            std::fs::create_dir(root.join(class)).unwrap();
            write_png(&root.join(class).join("x.png"), value);
            write_png(&root.join(class).join("y.PNG"), value);
            std::fs::write(root.join(class).join("notes.txt"), "ignored").unwrap();
        }
        std::fs::write(root.join("README"), "ignored").unwrap();
        let source = FolderSource::open(&root).unwrap();
        assert_eq!(source.class_names(), ["a", "b"]);
        assert_eq!(source.num_samples(1), 2);
        let img = source.image(1, 0).unwrap();
        assert_eq!((img.width, img.height), (3, 2));
        assert!(img.pixels.iter().all(|&v| v == 1.0));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn missing_folder_and_single_class_are_errors() {
        let err = FolderSource::open(Path::new("/nonexistent/images")).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        let root = temp_dir("folder-one-class");
        std::fs::create_dir(root.join("only")).unwrap();
        write_png(&root.join("only/x.png"), 1);
        let err = FolderSource::open(&root).unwrap_err();
        assert!(err.to_string().contains("at least 2"), "{err}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn unreadable_image_names_the_file() {
        let root = temp_dir("folder-bad-image");
        for class in ["a", "b"] {
            std::fs::create_dir(root.join(class)).unwrap();
            write_png(&root.join(class).join("ok.png"), 1);
        }
        std::fs::write(root.join("b/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let err = FolderSource::open(&root).unwrap_err();
        assert!(matches!(err, Error::Image { .. }), "{err}");
        assert!(err.to_string().contains("broken.png"), "{err}");
        std::fs::remove_dir_all(root).unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        #[test]
        fn corrupt_image_files_are_errors(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256), png in proptest::prelude::any::<bool>()) {
            let root = temp_dir("folder-fuzz");
            for class in ["a", "b"] {
                std::fs::create_dir(root.join(class)).unwrap();
                write_png(&root.join(class).join("ok.png"), 1);
            }
            let mut content = if png { b"\x89PNG\r\n\x1a\n".to_vec() } else { vec![0xFF, 0xD8, 0xFF] };
            content.extend(bytes);
            std::fs::write(root.join("b/fuzz.png"), content).unwrap();
            let result = FolderSource::open(&root);
            std::fs::remove_dir_all(root).unwrap();
            proptest::prop_assert!(result.is_err());
        }
    }

    #[test]
    fn empty_class_folder_is_an_error() {
        let root = temp_dir("folder-empty-class");
        std::fs::create_dir(root.join("a")).unwrap();
        std::fs::create_dir(root.join("b")).unwrap();
        write_png(&root.join("a/x.png"), 1);
        let err = FolderSource::open(&root).unwrap_err();
        assert!(err.to_string().contains("no .png"), "{err}");
        std::fs::remove_dir_all(root).unwrap();
    }
}
