//! Authentication: client certificates (CN the user, O the groups), bootstrap tokens (Secrets
//! `bootstrap-token-<id>` in kube-system) and signed ServiceAccount tokens. No credentials means
//! anonymous, which only the health and version endpoints accept.

use std::time::{SystemTime, UNIX_EPOCH};

use apimachinery::{ApiError, resource};

use crate::storage::Storage;
use crate::token::{self, TokenVerifier};
use crate::user::UserInfo;
use crate::x509;

/// The group every authenticated user is in.
pub const AUTHENTICATED: &str = "system:authenticated";

/// Turns credentials into a user.
#[derive(Debug)]
pub struct Authenticator {
    pub verifier: Option<TokenVerifier>,
}

impl Authenticator {
    /// The user of a request: `Ok(None)` when it carries no credentials at all, 401 when it
    /// carries some that do not prove anyone.
    pub async fn authenticate(
        &self,
        storage: &Storage,
        peer_certificate: Option<&[u8]>,
        authorization: Option<&str>,
    ) -> Result<Option<UserInfo>, ApiError> {
        if let Some(token) = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
        {
            return self.token_user(storage, token).await.map(Some);
        }
        if let Some(der) = peer_certificate {
            let subject = x509::subject(der).ok_or_else(ApiError::unauthorized)?;
            if subject.common_name.is_empty() {
                return Err(ApiError::unauthorized());
            }
            let mut groups = subject.organizations;
            groups.push(AUTHENTICATED.into());
            return Ok(Some(UserInfo {
                name: subject.common_name,
                groups,
                ..UserInfo::default()
            }));
        }
        Ok(None)
    }

    async fn token_user(&self, storage: &Storage, token: &str) -> Result<UserInfo, ApiError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut user = if let Some((id, secret)) = token::parse_bootstrap_token(token) {
            let info = resource::find("", "v1", "secrets")
                .ok_or_else(|| ApiError::internal("no secrets resource"))?;
            let key = info.key(Some("kube-system"), &format!("bootstrap-token-{id}"));
            let object = storage
                .get(info, &key)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            token::bootstrap_user_from_secret(&object, &id, &secret, now).map_err(|e| {
                tracing::debug!(error = %e, "bootstrap token refused");
                ApiError::unauthorized()
            })?
        } else {
            let verifier = self.verifier.as_ref().ok_or_else(ApiError::unauthorized)?;
            let claims = verifier.verify(token, now).map_err(|e| {
                tracing::debug!(error = %e, "service account token refused");
                ApiError::unauthorized()
            })?;
            token::user_of(&claims)
        };
        if !user.in_group(AUTHENTICATED) {
            user.groups.push(AUTHENTICATED.into());
        }
        Ok(user)
    }
}
