//! Batches the tests send straight to the agent (the wire protocol's types, no Tonel files).

use hotpatch::image::protocol::{Batch, Op, WireClass};

/// A subclass of Object named `name` in `package`, with no variables.
pub fn class_in(name: &str, package: &str) -> WireClass {
    WireClass {
        name: name.into(),
        superclass: Some("Object".into()),
        package: package.into(),
        ..Default::default()
    }
}

/// A batch that defines `name` (in `package`) with a class-side initialize of `body`.
pub fn with_initializer(id: &str, epoch: u64, name: &str, package: &str, body: &str) -> Batch {
    Batch {
        id: id.into(),
        epoch,
        packages: None,
        ops: vec![
            Op::DefineClass {
                class: Box::new(class_in(name, package)),
            },
            Op::PutMethod {
                class_name: name.into(),
                side: hotpatch::model::Side::Class,
                protocol: "class initialization".into(),
                source: format!("initialize\n\t{body}"),
            },
        ],
    }
}
