//! Where a model's tensors live, named once for configs, flags and run files.

use serde::{Deserialize, Serialize};

/// Where tensors live: `cpu` or `cuda` in configs, flags and run files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// The CPU (libtorch's intra-op threads).
    #[default]
    Cpu,
    /// The first CUDA device.
    Cuda,
}

impl std::str::FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda),
            other => Err(format!("unknown device `{other}`: use cpu or cuda")),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_text_and_toml() {
        for d in [Device::Cpu, Device::Cuda] {
            assert_eq!(d.to_string().parse::<Device>().unwrap(), d);
        }
        #[derive(Deserialize)]
        struct C {
            device: Device,
        }
        let c: C = toml::from_str("device = \"cuda\"").unwrap();
        assert_eq!(c.device, Device::Cuda);
        assert!(toml::from_str::<C>("device = \"gpu\"").is_err());
        assert!("gpu".parse::<Device>().unwrap_err().contains("cpu or cuda"));
    }
}
