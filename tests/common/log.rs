//! What the code under test logs through `tracing`, captured for a test
//! to assert on: a subscriber set as the default for the calling thread
//! only, so it sees everything a `#[tokio::test]` (current-thread runtime)
//! runs, and nothing of other tests.

#[derive(Clone, Default)]
pub(crate) struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
impl std::io::Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Log {
    /// Everything at `info` and above.
    pub(crate) fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
        Log::capture_at(tracing::Level::INFO)
    }
    /// Everything at `level` and above.
    pub(crate) fn capture_at(level: tracing::Level) -> (Log, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let writer = log.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (log, tracing::subscriber::set_default(sub))
    }
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
