//! SQLite may compile a statement again each time it runs: when a bound value
//! could change the plan, it re-plans on the first step after every rebinding.
//! In the bundled SQLite (3.51) that includes every `LIMIT ?`, which SeaORM puts on each `.one()`
//! and each page, so with sqlx's statement cache the parse and plan were still
//! paid on every read (15 % of the CPU of GetCustomer, BENCHMARKS.md fix 10).
//! The query planner stability guarantee (QPSG) keeps one plan per statement
//! whatever its values; customerhub runs no ANALYZE, so no plan it could pick
//! from values is lost.
use sea_orm::sqlx::{self, sqlite::SqliteConnection};
use std::ffi::c_int;

/// Switches the guarantee on for this connection (run on every new one).
pub async fn keep_plans_stable(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let on = qpsg(conn, 1).await?;
    if !on {
        return Err(sqlx::Error::Configuration("SQLite refused SQLITE_DBCONFIG_ENABLE_QPSG".into()));
    }
    Ok(())
}

/// Whether the guarantee is on for this connection.
pub async fn plans_are_stable(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    qpsg(conn, -1).await
}

/// Sets QPSG (1 on, 0 off, -1 leave as is) and reads back whether it is on.
async fn qpsg(conn: &mut SqliteConnection, set: c_int) -> Result<bool, sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let mut now_on: c_int = -1;
    // SAFETY: `db` is this connection's open handle, held exclusively through
    // `handle` for the call. SQLITE_DBCONFIG_ENABLE_QPSG takes exactly an int
    // and an int* (sqlite3.h), which is what is passed.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            set,
            &mut now_on as *mut c_int,
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK {
        return Err(sqlx::Error::Configuration(format!("sqlite3_db_config(ENABLE_QPSG) failed: {rc}").into()));
    }
    Ok(now_on == 1)
}
