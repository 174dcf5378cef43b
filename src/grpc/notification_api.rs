use super::{
    caller::staff,
    convert,
    notification_convert::{self as nc, Item, stream_item},
    pb::{self, notification_service_server::NotificationService},
};
use crate::{
    app::{
        self, AppState,
        notifications::{SettingsUpdate, TemplateKey},
    },
    domain::page::PageRequest,
    error::{AppError, Violations},
    mail::templates::TemplateSource,
};
use futures::{Stream, StreamExt};
use std::pin::Pin;
use tonic::{Request, Response, Status};

pub struct NotificationApi {
    state: AppState,
}

impl NotificationApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn template_key(t: &pb::Template) -> Result<TemplateKey, AppError> {
    let mut v = Violations::new();
    let kind = nc::kind_in(&mut v, "template.kind", t.kind);
    let locale = convert::locale_in(&mut v, "template.locale", t.locale);
    let tone = convert::tone_in(&mut v, "template.tone", t.tone);
    v.into_result()?;
    Ok(TemplateKey { kind, locale, tone })
}

fn key_of(kind: i32, locale: i32, tone: i32) -> Result<TemplateKey, AppError> {
    template_key(&pb::Template { kind, locale, tone, ..Default::default() })
}

fn template_out(t: app::notifications::TemplateView) -> pb::Template {
    pb::Template {
        kind: nc::kind_out(Some(t.kind)),
        locale: convert::locale_out(Some(t.locale)),
        tone: convert::tone_out(Some(t.tone)),
        subject: t.source.subject,
        body: t.source.body,
        customized: t.customized,
        placeholders: t.placeholders.into_iter().map(str::to_string).collect(),
        update_time: convert::opt_ts(t.updated_at),
    }
}

type StaffStream = Pin<Box<dyn Stream<Item = Result<pb::SubscribeStaffMessagesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl NotificationService for NotificationApi {
    async fn get_notification_settings(
        &self,
        req: Request<pb::GetNotificationSettingsRequest>,
    ) -> Result<Response<pb::GetNotificationSettingsResponse>, Status> {
        let caller = staff(&req)?;
        let s = app::notifications::get_settings(&self.state, &caller).await?;
        Ok(Response::new(pb::GetNotificationSettingsResponse { notification_settings: Some(nc::settings_out(s)) }))
    }

    async fn update_notification_settings(
        &self,
        req: Request<pb::UpdateNotificationSettingsRequest>,
    ) -> Result<Response<pb::UpdateNotificationSettingsResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let mut v = Violations::new();
        let settings: Vec<_> =
            r.settings.iter().enumerate().filter_map(|(i, s)| nc::setting_in(&mut v, i, s)).collect();
        v.into_result()?;
        let s = app::notifications::update_settings(
            &self.state,
            &caller,
            SettingsUpdate {
                settings,
                punches_low_threshold: r.punches_low_threshold,
                expiring_days_before: r.expiring_days_before,
            },
        )
        .await?;
        Ok(Response::new(pb::UpdateNotificationSettingsResponse { notification_settings: Some(nc::settings_out(s)) }))
    }

    async fn get_template(
        &self,
        req: Request<pb::GetTemplateRequest>,
    ) -> Result<Response<pb::GetTemplateResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let t = app::notifications::get_template(&self.state, &caller, key_of(r.kind, r.locale, r.tone)?).await?;
        Ok(Response::new(pb::GetTemplateResponse { template: Some(template_out(t)) }))
    }

    async fn update_template(
        &self,
        req: Request<pb::UpdateTemplateRequest>,
    ) -> Result<Response<pb::UpdateTemplateResponse>, Status> {
        let caller = staff(&req)?;
        let t = req.into_inner().template.ok_or_else(|| AppError::invalid("template", "is required"))?;
        let key = template_key(&t)?;
        let source = TemplateSource { subject: t.subject, body: t.body };
        let t = app::notifications::update_template(&self.state, &caller, key, source).await?;
        Ok(Response::new(pb::UpdateTemplateResponse { template: Some(template_out(t)) }))
    }

    async fn reset_template(
        &self,
        req: Request<pb::ResetTemplateRequest>,
    ) -> Result<Response<pb::ResetTemplateResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let t = app::notifications::reset_template(&self.state, &caller, key_of(r.kind, r.locale, r.tone)?).await?;
        Ok(Response::new(pb::ResetTemplateResponse { template: Some(template_out(t)) }))
    }

    async fn preview_template(
        &self,
        req: Request<pb::PreviewTemplateRequest>,
    ) -> Result<Response<pb::PreviewTemplateResponse>, Status> {
        let caller = staff(&req)?;
        let t = req.into_inner().template.ok_or_else(|| AppError::invalid("template", "is required"))?;
        let key = template_key(&t)?;
        let source = (!t.subject.is_empty() || !t.body.is_empty())
            .then_some(TemplateSource { subject: t.subject, body: t.body });
        let r = app::notifications::preview(&self.state, &caller, key, source).await?;
        Ok(Response::new(pb::PreviewTemplateResponse { html: r.html(), subject: r.subject, text: r.text }))
    }

    async fn list_deliveries(
        &self,
        req: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page =
            app::notifications::list_deliveries(&self.state, &caller, &r.customer_id, &r.contact_id, page).await?;
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: page.items.into_iter().map(nc::delivery_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn list_failed_deliveries(
        &self,
        req: Request<pb::ListFailedDeliveriesRequest>,
    ) -> Result<Response<pb::ListFailedDeliveriesResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let page = app::notifications::failed_deliveries(
            &self.state,
            &caller,
            PageRequest::parse(r.page_size, &r.page_token)?,
        )
        .await?;
        Ok(Response::new(pb::ListFailedDeliveriesResponse {
            deliveries: page.items.into_iter().map(nc::delivery_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn retry_deliveries(
        &self,
        req: Request<pb::RetryDeliveriesRequest>,
    ) -> Result<Response<pb::RetryDeliveriesResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let n = app::notifications::retry_deliveries(&self.state, &caller, &r.delivery_ids, r.all_failed).await?;
        Ok(Response::new(pb::RetryDeliveriesResponse { retried_count: n as i64 }))
    }

    async fn cancel_deliveries(
        &self,
        req: Request<pb::CancelDeliveriesRequest>,
    ) -> Result<Response<pb::CancelDeliveriesResponse>, Status> {
        let caller = staff(&req)?;
        let n = app::notifications::cancel_deliveries(&self.state, &caller, &req.get_ref().delivery_ids).await?;
        Ok(Response::new(pb::CancelDeliveriesResponse { cancelled_count: n as i64 }))
    }

    async fn set_contact_subscription(
        &self,
        req: Request<pb::SetContactSubscriptionRequest>,
    ) -> Result<Response<pb::SetContactSubscriptionResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let e = app::subscription::set_by_staff(&self.state, &caller, &r.contact_id, r.subscribed, &r.note).await?;
        Ok(Response::new(pb::SetContactSubscriptionResponse { event: Some(nc::subscription_event_out(e)) }))
    }

    async fn list_subscription_events(
        &self,
        req: Request<pb::ListSubscriptionEventsRequest>,
    ) -> Result<Response<pb::ListSubscriptionEventsResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let page = app::subscription::list_events(&self.state, &caller, &r.contact_id, page).await?;
        Ok(Response::new(pb::ListSubscriptionEventsResponse {
            events: page.items.into_iter().map(nc::subscription_event_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn list_staff_messages(
        &self,
        req: Request<pb::ListStaffMessagesRequest>,
    ) -> Result<Response<pb::ListStaffMessagesResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let page = PageRequest::parse(r.page_size, &r.page_token)?;
        let p = app::inbox::list(&self.state, &caller.staff_user_id, r.unread_only, page).await?;
        Ok(Response::new(pb::ListStaffMessagesResponse {
            messages: p.page.items.into_iter().map(nc::inbox_out).collect(),
            next_page_token: p.page.next_page_token,
            unread_count: p.unread,
        }))
    }

    async fn mark_staff_messages_read(
        &self,
        req: Request<pb::MarkStaffMessagesReadRequest>,
    ) -> Result<Response<pb::MarkStaffMessagesReadResponse>, Status> {
        let caller = staff(&req)?;
        let r = req.into_inner();
        let unread = app::inbox::mark_read(&self.state, &caller.staff_user_id, &r.message_ids, r.all).await?;
        Ok(Response::new(pb::MarkStaffMessagesReadResponse { unread_count: unread }))
    }

    type SubscribeStaffMessagesStream = StaffStream;

    async fn subscribe_staff_messages(
        &self,
        req: Request<pb::SubscribeStaffMessagesRequest>,
    ) -> Result<Response<Self::SubscribeStaffMessagesStream>, Status> {
        let caller = staff(&req)?;
        let owner = crate::live::stream::StreamOwner::ApiKey { key_hash: caller.key_hash.clone() };
        let stream =
            app::inbox::subscribe(&self.state, owner, &caller.staff_user_id, req.get_ref().after_sequence).await?;
        let out = stream.map(|r| {
            stream_item(r).map(|item| pb::SubscribeStaffMessagesResponse {
                event: Some(match item {
                    Item::Message(m) => pb::subscribe_staff_messages_response::Event::Message(m),
                    Item::Heartbeat(h) => pb::subscribe_staff_messages_response::Event::Heartbeat(h),
                }),
            })
        });
        Ok(Response::new(Box::pin(out)))
    }
}
