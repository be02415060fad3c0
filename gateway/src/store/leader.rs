//! Leadership of the settlement loop among gateway replicas on one database: a Postgres session
//! advisory lock, held on a connection of its own for as long as that session lives. When the leader's
//! process dies, Postgres ends its session and frees the lock, and the next replica to try takes it.
//! The leader's session is also its fence: a release is marked signed, and so sent, only while that
//! session still holds the lock ([`Store::set_submission_signed`]).

use sqlx::{Connection, PgConnection};

use super::Store;
use crate::error::Result;

/// The lock's key, in the two-integer key space (apart from the jobs' one-`bigint` locks): a class for
/// the gateway's settlement loop, and one lock in it.
pub(super) const LEADER_KEY: (i32, i32) = (0x6573_6372, 1);

/// A session that may hold the leadership.
pub struct Leadership {
    conn: PgConnection,
    held: bool,
    pid: i32,
}

impl Store {
    /// Opens a session of its own (outside the pool) to hold the leadership with.
    pub async fn leadership(&self) -> Result<Leadership> {
        let options = self.pool.connect_options();
        let mut conn = PgConnection::connect_with(&options).await?;
        let pid = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut conn).await?;
        Ok(Leadership { conn, held: false, pid })
    }
}

impl Leadership {
    /// Whether this session leads: takes the lock if it is free, and otherwise checks that the session
    /// holding it is still alive (the lock goes with it). An error means the session is gone: open a new
    /// one.
    pub async fn lead(&mut self) -> Result<bool> {
        if self.held {
            sqlx::query("SELECT 1").execute(&mut self.conn).await?;
            return Ok(true);
        }
        self.held = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LEADER_KEY.0)
            .bind(LEADER_KEY.1)
            .fetch_one(&mut self.conn)
            .await?;
        Ok(self.held)
    }

    /// The fence of a session that leads: its backend's process id, which holds the lock for as long as
    /// the session lives (`None` while it does not lead).
    #[must_use]
    pub fn fence(&self) -> Option<i32> {
        self.held.then_some(self.pid)
    }

    /// Gives the leadership up by closing the session.
    pub async fn resign(self) -> Result<()> {
        Ok(self.conn.close().await?)
    }
}
