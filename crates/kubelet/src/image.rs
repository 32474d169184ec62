//! Images in hakube's process runtime: which program a container's image, command and args run.
//! There are no image files: the built-in images are programs of the hakube binary itself
//! (`hakube/agnhost`, `hakube/pause`), and `hakube/host` runs the host's own programs. Pure.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::node::hex;

/// The built-in image of test programs, modelled on Kubernetes' e2e `agnhost` image.
pub(crate) const AGNHOST: &str = "hakube/agnhost";
/// The built-in image that only waits, as a pod's infrastructure container does.
pub(crate) const PAUSE: &str = "hakube/pause";
/// The image whose command and args are programs of the host.
pub(crate) const HOST: &str = "hakube/host";
/// The subcommand of the hakube binary that runs agnhost programs.
const AGNHOST_SUBCOMMAND: &str = "agnhost";

/// A built-in image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Image {
    Agnhost,
    Pause,
    Host,
}

/// Why an image cannot run a container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ImageError {
    /// Not a built-in image: the container waits in ErrImagePull, then ImagePullBackOff.
    #[error(
        "image {image:?} is not available: hakube's process runtime runs only the built-in images \
         hakube/agnhost, hakube/pause and hakube/host (loading real images is not implemented yet)"
    )]
    NotAvailable { image: String },
    /// The image has no entrypoint and the container names no command.
    #[error(
        "no command specified: the image {image:?} has no entrypoint; set the container's command"
    )]
    NoCommand { image: String },
    /// The command names a program the image does not hold, as a runtime reports it.
    #[error("exec: {program:?}: executable file not found in $PATH")]
    NotInImage { image: String, program: String },
}

impl ImageError {
    /// The container's waiting reason for this error.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            ImageError::NotAvailable { .. } => "ErrImagePull",
            ImageError::NoCommand { .. } => "CreateContainerError",
            ImageError::NotInImage { .. } => "StartError",
        }
    }
}

/// The built-in image an image reference names, if any: `hakube/agnhost`, with or without a tag
/// or digest, and with or without Docker Hub's `docker.io/` prefix.
pub(crate) fn builtin(image: &str) -> Option<Image> {
    let name = repository(image);
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    match name {
        AGNHOST => Some(Image::Agnhost),
        PAUSE => Some(Image::Pause),
        HOST => Some(Image::Host),
        _ => None,
    }
}

/// The repository of an image reference: without its digest or tag (a `:` after the last `/`).
fn repository(image: &str) -> &str {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].find(':') {
        Some(colon) => &image[..last_slash + colon],
        None => image,
    }
}

/// The program and arguments a container runs: `command` replaces the image's entrypoint and
/// `args` its default arguments, as in a container runtime. Both are already expanded.
pub(crate) fn argv(
    image: &str,
    command: &[String],
    args: &[String],
    runtime_exe: &Path,
) -> Result<Vec<String>, ImageError> {
    let exe = runtime_exe.to_string_lossy().into_owned();
    match builtin(image) {
        None => Err(ImageError::NotAvailable {
            image: image.to_string(),
        }),
        Some(Image::Pause) => match command.first().map(String::as_str) {
            None | Some("/pause" | "pause") => {
                Ok(vec![exe, AGNHOST_SUBCOMMAND.into(), "pause".into()])
            }
            Some(program) => Err(ImageError::NotInImage {
                image: image.to_string(),
                program: program.to_string(),
            }),
        },
        Some(Image::Agnhost) => {
            let mut argv = agnhost_command(command, &exe);
            argv.extend(args.iter().cloned());
            Ok(argv)
        }
        Some(Image::Host) => {
            let argv: Vec<String> = command.iter().chain(args).cloned().collect();
            if argv.is_empty() {
                return Err(ImageError::NoCommand {
                    image: image.to_string(),
                });
            }
            Ok(argv)
        }
    }
}

/// A command run in a container (an exec probe, `kubectl exec`): in an agnhost container a
/// leading `/agnhost` is the image's program; everything else is a host program.
pub(crate) fn exec_argv(image: &str, command: &[String], runtime_exe: &Path) -> Vec<String> {
    match builtin(image) {
        Some(Image::Agnhost | Image::Pause) => {
            agnhost_command(command, &runtime_exe.to_string_lossy())
        }
        _ => command.to_vec(),
    }
}

/// The agnhost image's entrypoint is `/agnhost`: no command, or a command starting with it, runs
/// the built-in program; another command (`sh -c ...`) runs as a host program, standing in for
/// the tools the real image carries.
fn agnhost_command(command: &[String], exe: &str) -> Vec<String> {
    match command.split_first() {
        None => vec![exe.to_string(), AGNHOST_SUBCOMMAND.into()],
        Some((first, rest)) if first == "/agnhost" || first == "agnhost" => {
            let mut argv = vec![exe.to_string(), AGNHOST_SUBCOMMAND.into()];
            argv.extend(rest.iter().cloned());
            argv
        }
        Some(_) => command.to_vec(),
    }
}

/// The imageID a container status shows for a built-in image: its repository at a digest of the
/// repository and hakube's version, since every tag runs the same program of this binary.
pub(crate) fn image_id(image: &str) -> String {
    let name = repository(image);
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0]);
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    format!("{name}@sha256:{}", hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn builtin_images() {
        let cases = [
            ("hakube/agnhost", Some(Image::Agnhost)),
            ("hakube/agnhost:2.52", Some(Image::Agnhost)),
            ("docker.io/hakube/agnhost:latest", Some(Image::Agnhost)),
            ("hakube/agnhost@sha256:abcd", Some(Image::Agnhost)),
            ("hakube/pause:3.10", Some(Image::Pause)),
            ("hakube/host", Some(Image::Host)),
            ("nginx", None),
            ("registry.k8s.io/e2e-test-images/agnhost:2.52", None),
            ("hakube/agnhostx", None),
            ("localhost:5000/hakube/agnhost", None),
            ("", None),
        ];
        for (image, want) in cases {
            assert_eq!(builtin(image), want, "{image}");
        }
    }

    #[test]
    fn programs() {
        let exe = Path::new("/bin/hakube");
        let not_available = |image: &str| {
            Err(ImageError::NotAvailable {
                image: image.to_string(),
            })
        };
        /// (image, command, args, argv or error)
        type Case = (
            &'static str,
            &'static [&'static str],
            &'static [&'static str],
            Result<Vec<String>, ImageError>,
        );
        let cases: Vec<Case> = vec![
            (
                "hakube/agnhost:2.52",
                &[],
                &["hello"],
                Ok(strings(&["/bin/hakube", "agnhost", "hello"])),
            ),
            (
                "hakube/agnhost",
                &[],
                &["netexec", "--http-port=8080"],
                Ok(strings(&[
                    "/bin/hakube",
                    "agnhost",
                    "netexec",
                    "--http-port=8080",
                ])),
            ),
            (
                "hakube/agnhost",
                &["/agnhost", "serve-hostname"],
                &["--port=9376"],
                Ok(strings(&[
                    "/bin/hakube",
                    "agnhost",
                    "serve-hostname",
                    "--port=9376",
                ])),
            ),
            (
                "hakube/agnhost",
                &["agnhost"],
                &["pause"],
                Ok(strings(&["/bin/hakube", "agnhost", "pause"])),
            ),
            (
                "hakube/agnhost",
                &["sh", "-c"],
                &["echo hi"],
                Ok(strings(&["sh", "-c", "echo hi"])),
            ),
            (
                "hakube/agnhost",
                &[],
                &[],
                Ok(strings(&["/bin/hakube", "agnhost"])),
            ),
            (
                "hakube/pause",
                &[],
                &["ignored"],
                Ok(strings(&["/bin/hakube", "agnhost", "pause"])),
            ),
            (
                "hakube/pause",
                &["sh"],
                &[],
                Err(ImageError::NotInImage {
                    image: "hakube/pause".into(),
                    program: "sh".into(),
                }),
            ),
            (
                "hakube/host",
                &["sh", "-c"],
                &["sleep 1"],
                Ok(strings(&["sh", "-c", "sleep 1"])),
            ),
            ("hakube/host", &[], &["ls"], Ok(strings(&["ls"]))),
            (
                "hakube/host:1",
                &[],
                &[],
                Err(ImageError::NoCommand {
                    image: "hakube/host:1".into(),
                }),
            ),
            ("nginx", &[], &[], not_available("nginx")),
            ("busybox:1.36", &["sh"], &[], not_available("busybox:1.36")),
        ];
        for (image, command, args, want) in cases {
            let got = argv(image, &strings(command), &strings(args), exe);
            assert_eq!(got, want, "{image} {command:?} {args:?}");
        }
    }

    #[test]
    fn messages_say_how_to_fix() {
        let err = argv("nginx", &[], &[], Path::new("/x")).unwrap_err();
        assert_eq!(err.reason(), "ErrImagePull");
        assert_eq!(
            err.to_string(),
            "image \"nginx\" is not available: hakube's process runtime runs only the built-in \
             images hakube/agnhost, hakube/pause and hakube/host (loading real images is not \
             implemented yet)"
        );
    }

    #[test]
    fn exec_commands() {
        let exe = Path::new("/bin/hakube");
        let cases: [(&str, &[&str], &[&str]); 4] = [
            (
                "hakube/agnhost",
                &["/agnhost", "dns-lookup"],
                &["/bin/hakube", "agnhost", "dns-lookup"],
            ),
            ("hakube/agnhost", &["hostname"], &["hostname"]),
            ("hakube/host", &["/agnhost"], &["/agnhost"]),
            ("nginx", &["ls"], &["ls"]),
        ];
        for (image, command, want) in cases {
            assert_eq!(exec_argv(image, &strings(command), exe), strings(want));
        }
    }

    #[test]
    fn image_ids_ignore_tags() {
        assert_eq!(image_id("hakube/agnhost:2.52"), image_id("hakube/agnhost"));
        assert_ne!(image_id("hakube/agnhost"), image_id("hakube/pause"));
        assert!(image_id("hakube/pause:3").starts_with("hakube/pause@sha256:"));
    }
}
