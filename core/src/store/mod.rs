#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store's database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
