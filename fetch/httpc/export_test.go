package httpc

// queued is how many requests the lean path has sent and not had
// answered whole, on every connection.
func (c *Client) queued() int {
	c.lean.mu.Lock()
	defer c.lean.mu.Unlock()
	n := 0
	for _, cs := range c.lean.open {
		for _, lc := range cs {
			n += len(lc.queue)
		}
	}
	return n
}
