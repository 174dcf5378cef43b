use super::{
    caller::hub,
    convert::{self, ts},
    pb::{self, hub_service_server::HubService},
};
use crate::app::{
    self, AppState,
    hub_auth::{HubProfile, HubSession},
};
use tonic::{Request, Response, Status};

pub struct HubApi {
    state: AppState,
}

impl HubApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn profile_out(p: HubProfile) -> pb::HubProfile {
    pb::HubProfile {
        contact_id: p.contact.id.to_string(),
        customer_id: p.customer.id.to_string(),
        customer_name: p.customer.display_name,
        first_name: p.contact.first_name,
        last_name: p.contact.last_name,
        email: p.contact.email,
        locale: convert::locale_out(Some(p.locale)),
        modules: convert::modules_out(&p.modules),
        subscribed: p.contact.subscribed,
    }
}

fn session_parts(s: HubSession) -> (String, Option<prost_types::Timestamp>, Option<pb::HubProfile>) {
    (s.token, Some(ts(s.expires_at)), Some(profile_out(s.profile)))
}

#[tonic::async_trait]
impl HubService for HubApi {
    async fn activate_account(
        &self,
        req: Request<pb::ActivateAccountRequest>,
    ) -> Result<Response<pb::ActivateAccountResponse>, Status> {
        let r = req.into_inner();
        let s = app::hub_auth::activate(&self.state, &r.token, &r.password).await?;
        let (session_token, expire_time, profile) = session_parts(s);
        Ok(Response::new(pb::ActivateAccountResponse { session_token, expire_time, profile }))
    }

    async fn login(&self, req: Request<pb::LoginRequest>) -> Result<Response<pb::LoginResponse>, Status> {
        let r = req.into_inner();
        let s = app::hub_auth::login(&self.state, &r.workspace_id, &r.email, &r.password, &r.customer_id).await?;
        let (session_token, expire_time, profile) = session_parts(s);
        Ok(Response::new(pb::LoginResponse { session_token, expire_time, profile }))
    }

    async fn logout(&self, req: Request<pb::LogoutRequest>) -> Result<Response<pb::LogoutResponse>, Status> {
        let caller = hub(&req)?;
        app::hub_auth::logout(&self.state, &caller).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn get_profile(
        &self,
        req: Request<pb::GetProfileRequest>,
    ) -> Result<Response<pb::GetProfileResponse>, Status> {
        let caller = hub(&req)?;
        let p = app::hub_auth::get_profile(&self.state, &caller).await?;
        Ok(Response::new(pb::GetProfileResponse { profile: Some(profile_out(p)) }))
    }
}
