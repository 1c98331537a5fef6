//! Helpers shared by the end-to-end tests.
//!
//! Harnesses that run bakgen's output against real components, all of them needing root:
//! - [`container::SystemdContainer`]: a real systemd as PID 1 in a `systemd-nspawn` container
//!   made from a copy-on-write clone of `/`, mounted only in a private mount namespace.
//! - [`vm::LvmVm`] / [`vm::run_in_vm`]: a small virtme-ng VM booting Debian's kernel, for
//!   what this machine's kernel cannot do (device-mapper, hence LVM snapshots).
//! - [`btrfs`]: a btrfs file system on a loop device, in a private mount namespace.
//!
//! Every missing tool or privilege is an error, never a skip: see `/work/shared/TESTING.md`.

pub mod binaries;
pub mod btrfs;
pub mod container;
pub mod error;
pub mod guest;
pub mod process;
pub mod vm;

pub use binaries::{built_binary, installed_binaries};
pub use container::{ContainerOptions, SystemdContainer};
pub use error::HarnessError;
pub use guest::{apply_policy, boot_with_bakgen, boot_with_deb, start_ok};
pub use vm::{run_in_vm, LvmVm, VmOutput};
