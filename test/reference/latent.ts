/**
 * Float64 CPU references of the series pieces, written from the formulas
 * apart from the WGSL and TypeScript they check: the masked losses (masked
 * MSE, Gaussian negative log-likelihood with a fixed std), and the latent
 * ODE's ELBO terms.
 */

/** A loss value and its gradient with respect to the predictions. */
export interface LossRef {
  value: number;
  grad: Float64Array;
}

/** scale · Σ m (p − y)², gradient 2 m (p − y) · scale. */
export function maskedMseRef(pred: ArrayLike<number>, target: ArrayLike<number>, mask: ArrayLike<number>, scale: number): LossRef {
  const grad = new Float64Array(target.length);
  let s = 0;
  for (let i = 0; i < target.length; i++) {
    if (mask[i] === 0) continue;
    const d = pred[i] - target[i];
    s += mask[i] * d * d;
    grad[i] = 2 * mask[i] * d * scale;
  }
  return { value: scale * s, grad };
}

/** −scale · Σ m log N(y | p, σ²), gradient m (p − y)/σ² · scale. */
export function gaussianNllRef(pred: ArrayLike<number>, target: ArrayLike<number>, mask: ArrayLike<number>, std: number, scale: number): LossRef {
  const grad = new Float64Array(target.length);
  let s = 0;
  for (let i = 0; i < target.length; i++) {
    if (mask[i] === 0) continue;
    const d = pred[i] - target[i];
    const logp = -0.5 * Math.log(2 * Math.PI) - Math.log(std) - (d * d) / (2 * std * std);
    s -= mask[i] * logp;
    grad[i] = (mask[i] * d * scale) / (std * std);
  }
  return { value: scale * s, grad };
}
