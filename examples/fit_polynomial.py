"""Fit a cubic polynomial to noisy samples of sin(x) with ember's autograd.

Run: python examples/fit_polynomial.py
"""

import math

import ember


def main(steps=2000, lr=0.05):
    ember.manual_seed(0)
    x = ember.linspace(-math.pi, math.pi, 200)
    y = ember.sin(x) + 0.05 * ember.randn(200)
    coeffs = ember.zeros(4, requires_grad=True)
    powers = ember.stack([x ** k for k in range(4)], dim=1) / ember.tensor([1, 3, 9, 27.0])
    for step in range(steps + 1):
        loss = ((powers @ coeffs - y) ** 2).mean()
        if step % 250 == 0:
            print(f"step {step:5d}  loss {loss.item():.5f}")
        coeffs.grad = None
        loss.backward()
        with ember.no_grad():
            coeffs -= lr * coeffs.grad
    a, b, c, d = (coeffs / ember.tensor([1, 3, 9, 27.0])).tolist()
    print(f"fit: y = {a:.3f} + {b:.3f} x + {c:.3f} x^2 + {d:.3f} x^3  (sin x ~ x - x^3/6)")
    return loss.item()


if __name__ == "__main__":
    main()
