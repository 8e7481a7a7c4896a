/**
 * Words for the spec's option values, so no select shows a raw name ("kaiming_uniform",
 * "fan_in"). The values themselves (and what they mean) come from the schema; a value with
 * no entry here reads as its name with spaces.
 */

const LABELS = {
  default: 'PyTorch default', zeros: 'zeros', constant: 'constant', normal: 'normal',
  uniform: 'uniform', xavier_uniform: 'Xavier uniform', xavier_normal: 'Xavier normal',
  kaiming_uniform: 'Kaiming uniform', kaiming_normal: 'Kaiming normal',
  orthogonal: 'orthogonal', fan_in: 'fan in (forward)', fan_out: 'fan out (backward)',
  relu: 'ReLU', leaky_relu: 'LeakyReLU', prelu: 'PReLU', elu: 'ELU', gelu: 'GELU',
  silu: 'SiLU', sigmoid: 'sigmoid', tanh: 'tanh', softplus: 'softplus', identity: 'identity',
  linear: 'linear', auto: 'auto', cpu: 'CPU', cuda: 'CUDA', mps: 'MPS (Apple)',
};

/** A person's word for an option value. */
export function optionLabel(value) {
  if (typeof value !== 'string') return String(value);
  return LABELS[value] ?? value.replace(/_/g, ' ');
}
