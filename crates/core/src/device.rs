//! Where a model's tensors live and the precision of its training products, named once for
//! configs, flags and run files.

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

/// Precision of a model's matrix products (mapped to a tensor kind by
/// `mixagent_lm::matmul_kind`): of the training step (`train.precision`) and of the
/// observation after each stage (`observe.precision`). `bf16` runs the products in bfloat16
/// with float32 master weights, optimizer state, norms, RoPE, attention, softmax, loss and
/// scores (each product's output, the logits included, is rounded to bf16 before it goes back
/// to float32, and the SwiGLU between the MLP's two products runs in bf16); other evaluation
/// always runs in float32.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Float32 everywhere (the default; bit-for-bit what earlier versions computed).
    #[default]
    F32,
    /// bfloat16 products; refused on a CPU without bf16 instructions.
    Bf16,
    /// `bf16` where the device has fast bf16 products (CUDA, or a CPU with `avx512_bf16` or
    /// AMX), `f32` elsewhere: results then depend on the machine. Records say what it resolved
    /// to: each stage of a trajectory or steered run (`train_precision`, `observe_precision`),
    /// a `pretrain` or `cpt --schedule` run's `run.json`; a trajectory resumed on another machine
    /// may change precision midway, and its stages show where.
    Auto,
}

impl Precision {
    /// Whether this is the default (`f32`): saved configs leave it out, so their fingerprints
    /// do not change.
    pub fn is_f32(&self) -> bool {
        *self == Precision::F32
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            "auto" => Ok(Precision::Auto),
            other => Err(format!("unknown precision `{other}`: use f32, bf16 or auto")),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Auto => "auto",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precisions_round_trip_and_f32_is_the_default() {
        for p in [Precision::F32, Precision::Bf16, Precision::Auto] {
            assert_eq!(p.to_string().parse::<Precision>().unwrap(), p);
        }
        assert_eq!(Precision::default(), Precision::F32);
        assert!(Precision::F32.is_f32() && !Precision::Auto.is_f32());
        assert!("fp16".parse::<Precision>().unwrap_err().contains("f32, bf16 or auto"));
    }

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
