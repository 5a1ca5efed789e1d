//! Figures for the help desk.

use super::Error;
use crate::desk::access::{Act, require};
use crate::store::auth::User;
use crate::store::tickets::SelfHelpFigures;
use crate::store::{Store, now_ms};

/// The "solved without a call" figure over the last `days`: self-help advice shown, and how often no request
/// followed.
pub async fn self_help(store: &Store, user: &User, days: u32) -> Result<SelfHelpFigures, Error> {
    require(user.role, Act::Read)?;
    let since = now_ms() - i64::from(days) * 24 * 3600 * 1000;
    Ok(store.read(move |c| c.self_help_figures(since)).await?)
}
