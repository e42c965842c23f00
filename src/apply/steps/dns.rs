//! The DNS steps: the A and SRV records friends connect through, ensured or
//! removed in Cloudflare (one call each, safe to repeat).

use std::net::Ipv4Addr;

use super::{Apply, ApplyError, Ctx, Outcome, Report, RunState};
use crate::plan::{DeleteDnsA, IpTarget, SetDnsA, SetDnsSrv};

fn cloudflare(resource: &str) -> impl Fn(crate::cloudflare::CloudflareError) -> ApplyError + '_ {
    move |source| ApplyError::Cloudflare {
        resource: resource.to_string(),
        source: source.into(),
    }
}

impl Apply for SetDnsA {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, _report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        let ip = match &self.target {
            IpTarget::NewServer => st.created.as_ref().and_then(|s| s.ipv4.clone()),
            IpTarget::Address(ip) => Some(ip.clone()),
        };
        let ip: Ipv4Addr = ip.and_then(|s| s.parse().ok()).ok_or_else(|| ApplyError::Invalid {
            resource: resource.to_string(),
            why: "the server has no IPv4 address to point at".into(),
        })?;
        let name = &self.name;
        let out = cx
            .cloudflare
            .ensure_a(cx.zone, name, ip, &comment(cx, st))
            .await
            .map_err(cloudflare(resource))?;
        Ok(ensured(out, format!("{name} → {ip}")))
    }
}

impl Apply for SetDnsSrv {
    async fn apply(&self, cx: &Ctx<'_>, st: &mut RunState, _report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        let Self {
            name,
            target,
            port,
            priority,
            weight,
            ..
        } = self;
        let out = cx
            .cloudflare
            .ensure_srv(cx.zone, name, target, *port, *priority, *weight, &comment(cx, st))
            .await
            .map_err(cloudflare(resource))?;
        Ok(ensured(out, format!("{name} → {target}:{port}")))
    }
}

impl Apply for DeleteDnsA {
    async fn apply(&self, cx: &Ctx<'_>, _st: &mut RunState, _report: &mut Report, resource: &str) -> Result<Outcome, ApplyError> {
        let removed = cx.cloudflare.remove_a(cx.zone, &self.name).await.map_err(cloudflare(resource))?;
        Ok(if removed {
            Outcome::Done("removed".into())
        } else {
            Outcome::Unchanged("no A record".into())
        })
    }
}

fn ensured(out: crate::cloudflare::Ensured, what: String) -> Outcome {
    match out {
        crate::cloudflare::Ensured::Unchanged => Outcome::Unchanged(what),
        _ => Outcome::Done(what),
    }
}

fn comment(cx: &Ctx<'_>, st: &RunState) -> String {
    let session = st
        .sessions
        .keys()
        .next()
        .cloned()
        .or_else(|| cx.observed.session.as_ref().map(|s| s.id.to_string()))
        .unwrap_or_default();
    format!("mc-gitops: {} session {session}", cx.desired.server.name)
}
