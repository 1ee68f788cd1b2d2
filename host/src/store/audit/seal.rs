//! Signed heads: the audit chain's head, signed with an ed25519 key kept apart from the
//! database, in the manner of systemd-journald's sealing or a transparency log's signed
//! tree heads.
//!
//! medic signs the head at the end of every run and at least every [`SEAL_EVERY`]
//! records. Each signed head goes into the `heads` table (append-only, like the chain) and,
//! the latest one, into `audit.head` beside the database, so a database replaced by an
//! older copy, cut short, or rewritten with every later hash recomputed no longer matches
//! a head medic signed. What it does not protect against: someone who can read the key
//! (`keys/audit.ed25519`, mode 0600, medic's user) can sign a forged chain; only a head an
//! external witness kept (`medic audit head`, then `medic audit verify --head FILE`)
//! catches that.

use std::path::PathBuf;

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::store::data_dir::DataDir;
use crate::store::db::{Database, DbError};

/// Records between two signed heads, at most.
pub const SEAL_EVERY: i64 = 256;
/// The file beside the database holding the latest signed head.
pub const HEAD_FILE: &str = "audit.head";
/// The key's name in the data directory's `keys/`.
pub const KEY_NAME: &str = "audit.ed25519";

/// A signed head: record `seq` has chain hash `hash`, signed by `public_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHead {
    /// Always 1.
    pub version: u32,
    /// The record the head stands for.
    pub seq: i64,
    /// That record's chain hash.
    pub hash: String,
    /// Hex ed25519 signature over [`SignedHead::message`].
    pub signature: String,
    /// Hex ed25519 public key that signed it.
    pub public_key: String,
    /// When it was signed (RFC 3339).
    pub at: String,
}

impl SignedHead {
    /// The bytes the signature covers.
    pub fn message(seq: i64, hash: &str) -> Vec<u8> {
        format!("medic audit head v1\n{seq}\n{hash}\n").into_bytes()
    }

    /// Whether the signature is `key`'s over this seq and hash.
    pub fn is_signed_by(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        hex::encode(key.as_bytes()) == self.public_key
            && key
                .verify(&Self::message(self.seq, &self.hash), &signature)
                .is_ok()
    }
}

/// Signs heads for one data directory.
#[derive(Clone)]
pub struct Sealer {
    key: SigningKey,
    head_file: PathBuf,
}

impl Sealer {
    /// The data directory's audit key (created on first use) and head file.
    pub fn open(dir: &DataDir) -> Result<Sealer, crate::store::data_dir::DataDirError> {
        let seed = dir.key(KEY_NAME)?;
        Ok(Sealer {
            key: SigningKey::from_bytes(&seed),
            head_file: dir.canonical().join(HEAD_FILE),
        })
    }

    /// The key that verifies this sealer's heads.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Sign the head `seq`/`hash`, store it in `heads` (inside the caller's transaction)
    /// and return it.
    pub(crate) fn sign(
        &self,
        transaction: &rusqlite::Transaction<'_>,
        seq: i64,
        hash: &str,
        at: &str,
    ) -> rusqlite::Result<SignedHead> {
        let signature = self.key.sign(&SignedHead::message(seq, hash));
        let head = SignedHead {
            version: 1,
            seq,
            hash: hash.to_string(),
            signature: hex::encode(signature.to_bytes()),
            public_key: hex::encode(self.key.verifying_key().as_bytes()),
            at: at.to_string(),
        };
        transaction.execute(
            "INSERT OR IGNORE INTO heads (seq, hash, signature, public_key, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![head.seq, head.hash, head.signature, head.public_key, head.at],
        )?;
        Ok(head)
    }

    /// Write `head` to the head file beside the database, replacing it atomically and
    /// durably; only ever moves forward.
    pub(crate) fn publish(&self, head: &SignedHead) -> std::io::Result<()> {
        if let Some(current) = read_head_file(&self.head_file)?
            && current.seq > head.seq
        {
            return Ok(());
        }
        let text = serde_json::to_string_pretty(head).expect("heads serialise");
        let temporary = self
            .head_file
            .with_extension(format!("tmp{}", std::process::id()));
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&temporary, &self.head_file)
    }
}

/// The head file's signed head, if there is one.
pub fn read_head_file(path: &std::path::Path) -> std::io::Result<Option<SignedHead>> {
    match crate::nofollow::read_regular_text(path, 64 << 10) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error)),
        Err(crate::nofollow::OpenError::NotFound { .. }) => Ok(None),
        Err(error) => Err(std::io::Error::other(error.to_string())),
    }
}

/// Every signed head in the database, oldest first.
pub(crate) fn heads(db: &Database) -> Result<Vec<SignedHead>, DbError> {
    let connection = db.lock();
    let mut statement = connection
        .prepare("SELECT seq, hash, signature, public_key, at FROM heads ORDER BY seq")
        .map_err(|error| db.error(error))?;
    let rows = statement
        .query_map([], |row| {
            Ok(SignedHead {
                version: 1,
                seq: row.get(0)?,
                hash: row.get(1)?,
                signature: row.get(2)?,
                public_key: row.get(3)?,
                at: row.get(4)?,
            })
        })
        .map_err(|error| db.error(error))?;
    rows.collect::<Result<_, _>>()
        .map_err(|error| db.error(error))
}

/// The seq of the latest signed head, if any.
pub(crate) fn last_signed(
    transaction: &rusqlite::Transaction<'_>,
) -> rusqlite::Result<Option<i64>> {
    transaction
        .query_row("SELECT MAX(seq) FROM heads", [], |row| row.get(0))
        .optional()
        .map(Option::flatten)
}
