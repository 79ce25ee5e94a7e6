package cf

import "slices"

// impliedPairs maps the (user, item) pairs of r to each case's implied
// visibles: pairs the model knows both ends of that are not training
// ratings, each once, in r's order.
func (m *Model) impliedPairs(r *Ratings) [][]int32 {
	out := make([][]int32, len(m.UserItems))
	seen := map[[2]int32]bool{}
	for u, items := range m.UserItems {
		for _, it := range items {
			seen[[2]int32{int32(u), it}] = true
		}
	}
	for _, p := range r.List {
		user, item := p.User, p.Item
		if m.ItemBased {
			user, item = item, user
		}
		u, uok := m.userIndex[user]
		it, iok := m.itemIndex[item]
		if !uok || !iok || seen[[2]int32{int32(u), int32(it)}] {
			continue
		}
		seen[[2]int32{int32(u), int32(it)}] = true
		out[u] = append(out[u], int32(it))
	}
	return out
}

// ImpliedPairs returns how many (case, visible) pairs the model was told
// were rated without their ratings (Config.Implied).
func (m *Model) ImpliedPairs() int {
	n := 0
	for _, vs := range m.Implied {
		n += len(vs)
	}
	return n
}

// caseBias sets x to case u's hidden biases: HidBias plus, for a
// conditional model, D'r (the rows of D of the visibles u rated in
// training and of its implied ones).
func (m *Model) caseBias(x []float32, u int) {
	copy(x, m.HidBias)
	if m.D == nil {
		return
	}
	F := m.Hidden
	for _, it := range m.UserItems[u] {
		for f, d := range m.D[int(it)*F:][:F] {
			x[f] += d
		}
	}
	if m.Implied != nil {
		for _, it := range m.Implied[u] {
			for f, d := range m.D[int(it)*F:][:F] {
				x[f] += d
			}
		}
	}
}

// applyD takes the momentum step of D for the minibatch: the gradient of
// row i is the sum over the cases j with r_j(i) = 1 of h0_j - hp_j (the
// positive minus the final hidden probabilities), as for the hidden
// biases. It goes through the cases in minibatch order.
func (t *trainer) applyD() {
	m, F := t.m, t.m.Hidden
	lr, mom, wd := t.lr, t.mom, t.wd
	t.dTouched = t.dTouched[:0]
	t.dGrad = t.dGrad[:0]
	for j, u := range t.batch {
		h0, hp := t.h0[j*F:][:F], t.hp[j*F:][:F]
		add := func(it int32) {
			sl := t.dSlot[it]
			if sl < 0 {
				sl = int32(len(t.dTouched))
				t.dSlot[it] = sl
				t.dTouched = append(t.dTouched, it)
				n := len(t.dGrad)
				t.dGrad = slices.Grow(t.dGrad, F)[:n+F]
				clear(t.dGrad[n:])
			}
			row := t.dGrad[int(sl)*F:][:F]
			for f := range row {
				row[f] += h0[f] - hp[f]
			}
		}
		for _, it := range m.UserItems[u] {
			add(it)
		}
		if m.Implied != nil {
			for _, it := range m.Implied[u] {
				add(it)
			}
		}
	}
	for sl, it := range t.dTouched {
		g := t.dGrad[sl*F:][:F]
		d, vel := m.D[int(it)*F:][:F], t.velD[int(it)*F:][:F]
		for f := range d {
			v := mom*vel[f] + lr*g[f] - wd*d[f]
			vel[f] = v
			d[f] += v
		}
		t.dSlot[it] = -1
	}
}
