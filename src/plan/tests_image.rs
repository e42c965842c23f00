//! Planner tests for the prebuilt snapshot image (`mc-gitops image build`):
//! a start boots it when observe found one for this agent version, and the
//! plan says so; without one the step is the stock image's, unchanged.

use super::tests::{example, offline};
use super::*;
use crate::hetzner::images::{Image, ImageId, image_labels};
use crate::repo::SwitchState;

fn prebuilt(d: &crate::repo::Desired) -> Image {
    Image {
        id: ImageId(4711),
        status: "available".into(),
        description: "mc-gitops grove".into(),
        architecture: "x86".into(),
        created: "2026-11-20T00:00:00Z".parse().unwrap(),
        image_size: Some(1.4),
        labels: image_labels(&d.server.name, crate::hetzner::images::AGENT_VERSION, "x86"),
    }
}

fn create(p: &Plan) -> (&Step, &Change) {
    let c = p
        .changes
        .iter()
        .find(|c| matches!(c.step, Step::CreateServer(CreateServer { .. })))
        .expect("a start");
    (&c.step, c)
}

#[test]
fn a_start_boots_the_prebuilt_image_when_one_exists() {
    let mut l = example();
    l.desired.server.state = SwitchState::Running;
    let mut o = offline(&l);
    let stock = plan(&l.desired, &o);
    let Step::CreateServer(CreateServer { snapshot, image, .. }) = create(&stock).0 else {
        unreachable!()
    };
    assert_eq!((snapshot, image.as_str()), (&None, "debian-12"));
    assert!(
        create(&stock).1.after.get("snapshot").is_none(),
        "the plan's JSON is unchanged without an image"
    );

    o.image = Some(prebuilt(&l.desired));
    let p = plan(&l.desired, &o);
    let (step, change) = create(&p);
    let Step::CreateServer(CreateServer { snapshot, image, .. }) = step else {
        unreachable!()
    };
    assert_eq!(
        snapshot,
        &Some(BootImage {
            id: ImageId(4711),
            architecture: "x86".into()
        })
    );
    assert_eq!(image, "debian-12", "the stock image stays the fallback");
    assert!(change.reason.contains("prebuilt image 4711"), "{}", change.reason);
    assert_eq!(change.after["snapshot"]["id"], 4711);
}
