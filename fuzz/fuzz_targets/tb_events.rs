//! TensorBoard event-file bytes (TFRecords of `Event` protobufs) through
//! `callbacks::tensorboard::reader::read_events_bytes`, then the scalar series: an error or
//! the events, never a panic; memory bounded by the input. The input is read twice: as a
//! whole file, and framed as one record with correct CRCs (`events::tfrecord`), so that
//! mutations reach the `Event` decoder instead of stopping at a CRC mismatch.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkeras::callbacks::tensorboard::events::tfrecord;
use rkeras::callbacks::tensorboard::reader::{read_events_bytes, scalars, SummaryValue};

fn read(bytes: &[u8]) {
    let Ok(events) = read_events_bytes("fuzz.tfevents", bytes) else {
        return;
    };
    for (tag, _) in events.iter().flat_map(|e| &e.values).take(4) {
        let _ = scalars(&events, tag);
    }
    for (_, v) in events.iter().flat_map(|e| &e.values) {
        if let SummaryValue::Histogram(h) = v {
            let _ = (h.bucket.len(), h.bucket_limit.len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    read(data);
    read(&tfrecord(data));
});
