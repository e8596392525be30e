//! The zip layer under `.keras` and `.npz` (the `zip` crate, deflate only): open the archive
//! and read each member, bounded by its declared size and deflate's maximum ratio, as
//! rkeras's readers do. An error or the members, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(data)) else { return };
    let budget = rkeras::io::npy::MAX_DEFLATE_RATIO * data.len() as u64;
    let mut total = 0u64;
    for i in 0..z.len() {
        let Ok(mut f) = z.by_index(i) else { continue };
        let _ = f.name();
        total = total.saturating_add(f.size());
        if total > budget {
            return;
        }
        let mut buf = Vec::new();
        let size = f.size();
        let _ = (&mut f).take(size).read_to_end(&mut buf);
    }
});
