package cf

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
	m.addD(x, m.UserItems[u])
	if m.Implied != nil {
		m.addD(x, m.Implied[u])
	}
}

// addD adds to x the rows of D of the visibles vs, in order.
func (m *Model) addD(x []float32, vs []int32) {
	F := m.Hidden
	for _, it := range vs {
		for f, d := range m.D[int(it)*F:][:F] {
			x[f] += d
		}
	}
}

// stepD takes the momentum step of row it of D for the minibatch, whose
// occurrences of it (ratings and implied) are o0 to o1-1 of the trainer's
// lists: the gradient is the sum over them of h0 - hp (the positive minus
// the final hidden probabilities of the case), as for the hidden biases.
func (t *trainer) stepD(w *scratch, it, o0, o1 int) {
	F := t.m.Hidden
	g := w.dg[:F]
	clear(g)
	for o := o0; o < o1; o++ {
		j := int(t.occPos[o])
		h0, hp := t.h0[j*F:][:F], t.hp[j*F:][:F]
		for f := range g {
			g[f] += h0[f] - hp[f]
		}
	}
	lr, mom, wd := t.lr, t.mom, t.wd
	d, vel := t.m.D[it*F:][:F], t.velD[it*F:][:F]
	for f := range d {
		v := mom*vel[f] + lr*g[f] - wd*d[f]
		vel[f] = v
		d[f] += v
	}
}
