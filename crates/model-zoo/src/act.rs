//! Activations inside the models: the differentiable candle form used for training, and the plan that replaces
//! the exact activation by a caller-supplied f64 function at evaluation time (all layers, or per layer).

use std::fmt;
use std::sync::Arc;

use activation_approx::{Activation, ActivationRegistry, Builtin};
use candle_core::Tensor;

use crate::error::{Result, ZooError};

/// A scalar function applied element-wise in place of an activation (e.g. an approximation's f64 or
/// fixed-point emulation). Inputs are the f32 pre-activation values widened to f64; results are narrowed to f32.
pub type ActFn = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// Wraps any [`Activation`] (a registry entry, an approximation) as an [`ActFn`].
pub fn act_fn(activation: Arc<dyn Activation>) -> ActFn {
    Arc::new(move |x| activation.eval(x))
}

/// Which function each activation layer applies at evaluation time.
#[derive(Clone, Default)]
pub enum ActivationPlan {
    /// The model's own activation, computed by candle.
    #[default]
    Exact,
    /// One replacement for every activation layer.
    All(ActFn),
    /// Layer `i` uses entry `i` (`None` = exact); the length must equal the number of activation layers.
    PerLayer(Vec<Option<ActFn>>),
}

impl fmt::Debug for ActivationPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActivationPlan::Exact => f.write_str("Exact"),
            ActivationPlan::All(_) => f.write_str("All(<fn>)"),
            ActivationPlan::PerLayer(v) => write!(f, "PerLayer({} layers, {} replaced)", v.len(), v.iter().filter(|x| x.is_some()).count()),
        }
    }
}

impl ActivationPlan {
    /// The replacement for activation layer `index`, if any.
    pub fn replacement(&self, index: usize) -> Option<&ActFn> {
        match self {
            ActivationPlan::Exact => None,
            ActivationPlan::All(f) => Some(f),
            ActivationPlan::PerLayer(v) => v.get(index).and_then(Option::as_ref),
        }
    }

    /// Checks a per-layer plan against the model's number of activation layers.
    pub fn check(&self, n_layers: usize) -> Result<()> {
        match self {
            ActivationPlan::PerLayer(v) if v.len() != n_layers => Err(ZooError::PlanLength { got: v.len(), expected: n_layers }),
            _ => Ok(()),
        }
    }
}

/// A model's activation: the registry entry plus, for built-ins, its differentiable candle form.
#[derive(Debug, Clone)]
pub struct ModelActivation {
    /// The registry entry.
    pub activation: Arc<dyn Activation>,
    /// The built-in it is, when it is one (then it can be trained).
    pub builtin: Option<Builtin>,
}

impl ModelActivation {
    /// Resolves `name` in `registry` (unknown names list the known ones).
    pub fn resolve(name: &str, registry: &ActivationRegistry) -> Result<Self> {
        let activation = registry.get(name)?;
        // Registry names are unique and every registry starts with the built-ins, so the name identifies them.
        let builtin = Builtin::ALL.into_iter().find(|b| b.name() == activation.name());
        Ok(ModelActivation { activation, builtin })
    }

    /// The registry name.
    pub fn name(&self) -> &str {
        self.activation.name()
    }

    /// The built-in, or [`ZooError::NotTrainable`].
    pub fn trainable(&self) -> Result<Builtin> {
        self.builtin.ok_or_else(|| ZooError::NotTrainable {
            name: self.name().to_string(),
            trainable: Builtin::ALL.iter().map(|b| b.name()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Applies the exact activation: candle ops for built-ins (differentiable), element-wise f64 otherwise.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        match self.builtin {
            Some(b) => Ok(builtin_forward(b, x)?),
            None => map_elementwise(x, &|v| self.activation.eval(v)),
        }
    }
}

fn softplus(x: &Tensor) -> candle_core::Result<Tensor> {
    // ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|), stable for large |x|.
    x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?
}

/// The differentiable candle form of a built-in (formulas in `activation_approx::Builtin`).
pub fn builtin_forward(b: Builtin, x: &Tensor) -> candle_core::Result<Tensor> {
    const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
    const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
    match b {
        Builtin::Silu => x.silu(),
        Builtin::Gelu => x.gelu_erf(),
        Builtin::GeluTanh => x.gelu(),
        Builtin::Mish => x * softplus(x)?.tanh()?,
        Builtin::Sigmoid => candle_nn::ops::sigmoid(x),
        Builtin::Tanh => x.tanh(),
        Builtin::Softplus => softplus(x),
        Builtin::Relu => x.relu(),
        Builtin::Elu | Builtin::Selu => {
            // relu(x) + (e^{min(x,0)} − 1)
            let neg = (x.neg()?.relu()?.neg()?.exp()? - 1.0)?;
            if b == Builtin::Elu { x.relu()? + neg } else { (x.relu()? + (neg * SELU_ALPHA)?)? * SELU_LAMBDA }
        }
    }
}

/// Applies `f` element-wise (f32 → f64 → f32) on the CPU, keeping the shape.
pub fn map_elementwise(x: &Tensor, f: &dyn Fn(f64) -> f64) -> Result<Tensor> {
    let values: Vec<f32> = x.flatten_all()?.to_vec1::<f32>()?;
    let mapped: Vec<f32> = values.into_iter().map(|v| f(f64::from(v)) as f32).collect();
    Ok(Tensor::from_vec(mapped, x.shape(), x.device())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn candle_forms_match_catalogue() {
        let xs: Vec<f32> = (-40..=40).map(|i| i as f32 * 0.2).collect();
        let t = Tensor::from_vec(xs.clone(), xs.len(), &Device::Cpu).unwrap();
        for b in Builtin::ALL {
            let got: Vec<f32> = builtin_forward(b, &t).unwrap().to_vec1().unwrap();
            for (x, g) in xs.iter().zip(got) {
                let want = b.eval(f64::from(*x));
                assert!((f64::from(g) - want).abs() < 2e-4 * (1.0 + want.abs()), "{} at {x}: {g} vs {want}", b.name());
            }
        }
    }

    #[test]
    fn unknown_and_untrainable() {
        let reg = ActivationRegistry::builtin();
        let err = ModelActivation::resolve("swsh", &reg).unwrap_err().to_string();
        assert!(err.contains("swsh") && err.contains("silu"), "{err}");
        #[derive(Debug)]
        struct Cube;
        impl Activation for Cube {
            fn name(&self) -> &str { "cube" }
            fn eval(&self, x: f64) -> f64 { x * x * x }
            fn left_tail(&self) -> activation_approx::Tail { activation_approx::Tail::Zero }
            fn right_tail(&self) -> activation_approx::Tail { activation_approx::Tail::Identity }
        }
        let mut reg = reg;
        reg.register(Arc::new(Cube)).unwrap();
        let a = ModelActivation::resolve("cube", &reg).unwrap();
        let err = a.trainable().unwrap_err().to_string();
        assert!(err.contains("cube") && err.contains("mish"), "{err}");
        let t = Tensor::new(&[2f32, -1.0], &Device::Cpu).unwrap();
        assert_eq!(a.apply(&t).unwrap().to_vec1::<f32>().unwrap(), vec![8.0, -1.0]);
    }

    #[test]
    fn plan_lookup_and_length() {
        let f: ActFn = Arc::new(|x| 2.0 * x);
        let p = ActivationPlan::PerLayer(vec![None, Some(f.clone())]);
        assert!(p.replacement(0).is_none() && p.replacement(1).is_some());
        assert!(p.check(3).unwrap_err().to_string().contains("2 entries"));
        assert!(ActivationPlan::All(f).replacement(7).is_some());
    }
}
