//! `x^b` for the layout's gradients, where the exponent `b` is fixed for a whole run.
//!
//! Every attraction and every repulsion of the stochastic layout needs `d^2` to the power `b`
//! (fitted from `min_dist`, about 0.9): about 150 million powers for a 20,000-point map, and with
//! the C library's `powf` they were 40% of the layout. Since `b` does not change, most of the
//! work of a general `powf` can be done once: writing `x = 2^(e - 127) m` with `m` in [1, 2),
//!
//! `x^b = 2^(b (e - 127)) * m^b`,
//!
//! the first factor comes from a table of the 256 possible exponent fields and the second from
//! a degree-7 polynomial in `u = 2m - 3` (in [-1, 1)), interpolated at Chebyshev nodes when the
//! table is built. No logarithm, exponential or division per call: a table load and seven
//! multiply-adds, about a fifth of `powf`'s cost, within 4e-7 of the exact value (a few f32
//! rounding steps; `powf` is within 6e-8). Plain f32 multiplications and additions in a fixed
//! order, so the value is the same on every thread and every x86-64 CPU.

/// Degree of the mantissa polynomial plus one.
const TERMS: usize = 8;
/// Largest table entry: keeps `a x^b + 1` finite for any curve parameter `a` below 2^56 and
/// `b` below 2 (then `m^b < 4`), so
/// the gradients of points absurdly far apart stay finite (their value there is irrelevant).
/// The smallest is f32's smallest normal number, so that no power is 0.
const LARGEST_SCALE: f64 = 1e20;

/// `x^b` for one fixed `b`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PowerOf {
    /// `2^(b (e - 127))` for every exponent field `e`, within [f32::MIN_POSITIVE,
    /// LARGEST_SCALE].
    scale: [f32; 256],
    /// Monomial coefficients of `((u + 3) / 2)^b` on `u` in [-1, 1], constant term first.
    mantissa: [f32; TERMS],
}

impl PowerOf {
    /// The table and polynomial for exponent `b` (finite).
    pub(crate) fn new(b: f64) -> Self {
        let mut scale = [0.0_f32; 256];
        for (e, entry) in scale.iter_mut().enumerate() {
            *entry = (b * (e as f64 - 127.0))
                .exp2()
                .clamp(f64::from(f32::MIN_POSITIVE), LARGEST_SCALE) as f32;
        }
        let coefficients =
            monomial_from_chebyshev(&chebyshev_interpolation(|u| ((u + 3.0) / 2.0).powf(b)));
        PowerOf { scale, mantissa: coefficients.map(|c| c as f32) }
    }

    /// `x^b` for `x > 0`; zero, negative and subnormal `x` are taken as the smallest normal
    /// f32 (callers never use the value there: they skip coincident points).
    #[inline(always)]
    pub(crate) fn pow(&self, x: f32) -> f32 {
        let x = if x > f32::MIN_POSITIVE { x } else { f32::MIN_POSITIVE };
        let bits = x.to_bits();
        let exponent = (bits >> 23) as usize & 0xff;
        let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
        let u = 2.0 * m - 3.0;
        // Estrin's scheme: four independent pairs, then two levels, for a short dependency chain.
        let c = &self.mantissa;
        let (u2, u4) = (u * u, u * u * (u * u));
        let low = (c[0] + c[1] * u) + u2 * (c[2] + c[3] * u);
        let high = (c[4] + c[5] * u) + u2 * (c[6] + c[7] * u);
        self.scale[exponent] * (low + u4 * high)
    }
}

/// Chebyshev coefficients of the polynomial of degree `TERMS - 1` that interpolates `f` at the
/// Chebyshev nodes of [-1, 1] (within a factor of the best polynomial approximation).
fn chebyshev_interpolation(f: impl Fn(f64) -> f64) -> [f64; TERMS] {
    let n = TERMS as f64;
    let angle = |k: usize| std::f64::consts::PI * (k as f64 + 0.5) / n;
    let values: Vec<f64> = (0..TERMS).map(|k| f(angle(k).cos())).collect();
    let mut coefficients = [0.0; TERMS];
    for (j, coefficient) in coefficients.iter_mut().enumerate() {
        let sum: f64 =
            values.iter().enumerate().map(|(k, v)| v * (j as f64 * angle(k)).cos()).sum();
        *coefficient = 2.0 * sum / n;
    }
    coefficients[0] /= 2.0;
    coefficients
}

/// `sum_j c_j T_j(u)` rewritten as `sum_i a_i u^i` (T_0 = 1, T_1 = u,
/// T_{j+1} = 2u T_j - T_{j-1}).
fn monomial_from_chebyshev(chebyshev: &[f64; TERMS]) -> [f64; TERMS] {
    let mut monomial = [0.0; TERMS];
    let (mut previous, mut current) = ([0.0; TERMS], [0.0; TERMS]);
    previous[0] = 1.0;
    current[1] = 1.0;
    for (j, &c) in chebyshev.iter().enumerate() {
        let t = match j {
            0 => previous,
            1 => current,
            _ => {
                let mut next = [0.0; TERMS];
                for i in 0..TERMS {
                    next[i] = if i > 0 { 2.0 * current[i - 1] } else { 0.0 } - previous[i];
                }
                (previous, current) = (current, next);
                next
            }
        };
        monomial.iter_mut().zip(t).for_each(|(a, t)| *a += c * t);
    }
    monomial
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relative_error(power: &PowerOf, b: f64, x: f32) -> f64 {
        let exact = f64::from(x).powf(b);
        (f64::from(power.pow(x)) - exact).abs() / exact
    }

    #[test]
    fn within_four_ten_millionths_of_the_exact_power() {
        // Exponents around the layout's (b = 0.895 for the default min_dist 0.1; it grows with
        // min_dist). Squared distances from 1e-12 to 1e10, geometrically spaced, and every
        // value 0.001 apart in [0.001, 100] (the common range).
        for b in [0.3, 0.58, 0.7901, 0.895_060_88, 1.0, 1.25, 1.9] {
            let power = PowerOf::new(b);
            let mut worst = 0.0_f64;
            let mut x = 1e-12_f32;
            while x < 1e10 {
                worst = worst.max(relative_error(&power, b, x));
                x *= 1.001;
            }
            for i in 1..=100_000 {
                worst = worst.max(relative_error(&power, b, i as f32 * 1e-3));
            }
            assert!(worst < 4e-7, "b = {b}: worst relative error {worst:e}");
        }
    }

    #[test]
    fn exact_at_powers_of_two_for_b_one_and_at_one_for_any_b() {
        let one = PowerOf::new(1.0);
        for x in [0.25_f32, 1.0, 2.0, 4.0, 1024.0] {
            assert_eq!(one.pow(x), x);
        }
        // m = 1 is u = -1, where the interpolating polynomial is exact to f32 rounding.
        let power = PowerOf::new(0.895_060_88);
        assert!((power.pow(1.0) - 1.0).abs() <= f32::EPSILON, "{}", power.pow(1.0));
        assert!((power.pow(4.0) - 4f32.powf(0.895_061)).abs() < 4e-7 * 4.0);
    }

    #[test]
    fn zero_subnormal_and_huge_inputs_stay_finite_and_positive() {
        let power = PowerOf::new(1.9);
        for x in [0.0, -1.0, 1e-40, f32::MIN_POSITIVE, 3e38, f32::INFINITY] {
            let value = power.pow(x);
            assert!(value.is_finite() && value > 0.0, "{x}: {value}");
        }
        // The cap keeps a x^b + 1 finite for a up to 2^56.
        assert!(2f32.powi(56) * power.pow(f32::MAX) + 1.0 < f32::INFINITY);
        // Below the smallest normal, the smallest normal's power.
        assert_eq!(power.pow(0.0), power.pow(f32::MIN_POSITIVE));
    }

    #[test]
    fn chebyshev_to_monomial_reproduces_a_cubic() {
        // f(u) = 1 - 2u + 3u^3 is its own degree-7 interpolant.
        let coefficients =
            monomial_from_chebyshev(&chebyshev_interpolation(|u| 1.0 - 2.0 * u + 3.0 * u * u * u));
        let expected = [1.0, -2.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0];
        for (got, want) in coefficients.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{coefficients:?}");
        }
    }
}
