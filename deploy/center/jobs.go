package center

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Actions a job runs.
const (
	ActInstall   = "install"
	ActRemove    = "remove"
	ActUpdate    = "update"
	ActUpdateAll = "update-all"
	ActDownload  = "download"
	ActRefresh   = "refresh"
	ActRollback  = "rollback"
	ActPin       = "pin"
	ActUnpin     = "unpin"
)

// Job states.
const (
	Queued    = "queued"
	Running   = "running"
	Done      = "done"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// Request asks for a job.
type Request struct {
	Action string
	Item   string // an item ID; empty for update-all and refresh
	Options
	// Run, when set, is the job's work instead of a backend call (an
	// install from a .flatpakref, which names no item yet).
	Run func(ctx context.Context, p Progress) (*Result, error)
}

// Job is a request being carried out, as the page shows it.
type Job struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Item   string `json:"item,omitempty"`
	Title  string `json:"title"`
	State  string `json:"state"`
	Event
	Error   string    `json:"error,omitempty"`
	Result  *Result   `json:"result,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
}

// Notice is what subscribers hear: a job changed, or the items did.
type Notice struct {
	Job     *Job // nil: the items changed
	Changed bool
}

// keptJobs bounds the finished jobs remembered for the page.
const keptJobs = 50

// Center runs jobs over its backends one at a time, in the order asked
// (two installs into one installation would race on its deploy refs), and
// tells subscribers of every change.
type Center struct {
	backends []Backend

	mu     sync.Mutex
	jobs   []*job
	next   int
	subs   map[*subscriber]struct{}
	queue  chan *job
	closed bool

	ctx       context.Context // the center's life, for work no job holds
	preparing *preparation    // nil: none under way
	prepWG    sync.WaitGroup  // the preparations' goroutines
	worked    chan struct{}   // closed once the worker, and its job, ended
}

// preparation is the fetching ahead of what installing item would fetch.
type preparation struct {
	item string
	done chan struct{}
}

// prepareFor bounds a preparation: it is work nobody waits for.
const prepareFor = 2 * time.Minute

type job struct {
	Job
	req    Request
	ctx    context.Context
	cancel context.CancelFunc
	last   time.Time   // when a notice of its progress was last sent
	flush  *time.Timer // sends the progress held back, when one is due
}

// progressEvery is how often at most a job's progress is sent.
const progressEvery = 100 * time.Millisecond

// New makes a center over backends and starts its worker, which stops
// when ctx ends.
func New(ctx context.Context, backends ...Backend) *Center {
	c := &Center{backends: backends, subs: map[*subscriber]struct{}{}, queue: make(chan *job, 256), ctx: ctx, worked: make(chan struct{})}
	go c.work(ctx)
	return c
}

// Drain waits, once the center's context has ended, for the job it was
// running and the preparations under way to stop (they are cancelled
// with it), or for ctx: so that the repository they write is closed
// after them, never under them.
func (c *Center) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		<-c.worked
		c.prepWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the center's work had not stopped: %w", ctx.Err())
	}
}

// Backends returns the center's backends.
func (c *Center) Backends() []Backend { return c.backends }

// backend finds the backend of an item ID ("apps/...").
func (c *Center) backend(id string) (Backend, error) {
	name, _, _ := strings.Cut(id, "/")
	for _, b := range c.backends {
		if b.Name() == name {
			return b, nil
		}
	}
	return nil, ErrNotFound{id}
}

// StartFunc queues a job whose work is run.
func (c *Center) StartFunc(action, item, title string, run func(ctx context.Context, p Progress) (*Result, error)) (Job, error) {
	return c.queueJob(Request{Action: action, Item: item, Run: run}, title)
}

// Start queues a job and returns it as queued.
func (c *Center) Start(req Request) (Job, error) {
	var title string
	switch req.Action {
	case ActUpdateAll:
		if req.Item != "" {
			return Job{}, fmt.Errorf("%s takes no item", req.Action)
		}
		title = "Updating everything"
	case ActRefresh:
		// An item names the backend to refresh ("os/" checks the OS
		// alone); none refreshes them all.
		title = "Refreshing the catalogue"
		if req.Item != "" {
			b, err := c.backend(req.Item)
			if err != nil {
				return Job{}, err
			}
			title = "Refreshing " + b.Name()
		}
	case ActDownload:
		title = "Downloading the updates"
		if req.Item != "" {
			if _, err := c.backend(req.Item); err != nil {
				return Job{}, err
			}
			title = "Downloading " + req.Item
		}
	case ActInstall, ActRemove, ActUpdate, ActRollback, ActPin, ActUnpin:
		if _, err := c.backend(req.Item); err != nil {
			return Job{}, err
		}
		title = map[string]string{ActInstall: "Installing", ActRemove: "Removing", ActUpdate: "Updating",
			ActRollback: "Rolling back", ActPin: "Pinning", ActUnpin: "Unpinning"}[req.Action] + " " + req.Item
	default:
		return Job{}, fmt.Errorf("unknown action %q", req.Action)
	}
	req.Run = nil
	return c.queueJob(req, title)
}

func (c *Center) queueJob(req Request, title string) (Job, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return Job{}, errors.New("the center is closing")
	}
	c.next++
	j := &job{Job: Job{ID: "j" + strconv.Itoa(c.next), Action: req.Action, Item: req.Item, Title: title, State: Queued,
		Event: Event{Message: "waiting for the jobs before it"}, Started: time.Now()}, req: req}
	j.ctx, j.cancel = context.WithCancel(context.Background())
	select {
	case c.queue <- j:
	default:
		return Job{}, errors.New("too many jobs queued")
	}
	c.jobs = append(c.jobs, j)
	c.trim()
	c.notifyLocked(Notice{Job: j.copy()})
	return j.Job, nil
}

// trim forgets the oldest finished jobs beyond keptJobs. Callers hold mu.
func (c *Center) trim() {
	for len(c.jobs) > keptJobs {
		i := 0
		for i < len(c.jobs) && !c.jobs[i].finished() {
			i++
		}
		if i == len(c.jobs) {
			return
		}
		c.jobs = append(c.jobs[:i], c.jobs[i+1:]...)
	}
}

func (j *job) finished() bool { return j.Job.ended() }

func (j *job) copy() *Job {
	cp := j.Job
	return &cp
}

// Cancel stops a queued or running job.
func (c *Center) Cancel(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, j := range c.jobs {
		if j.ID != id {
			continue
		}
		if j.finished() {
			return fmt.Errorf("job %s has ended", id)
		}
		j.cancel()
		if j.State == Queued {
			j.State, j.Ended, j.Message = Cancelled, time.Now(), "cancelled before it started"
			c.notifyLocked(Notice{Job: j.copy()})
		}
		return nil
	}
	return fmt.Errorf("no job %s", id)
}

// Jobs returns the jobs remembered, oldest first.
func (c *Center) Jobs() []Job {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Job, len(c.jobs))
	for i, j := range c.jobs {
		out[i] = j.Job
	}
	return out
}

// Busy reports whether a job is queued or running, or an install is
// being prepared.
func (c *Center) Busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.preparing != nil {
		return true
	}
	for _, j := range c.jobs {
		if !j.finished() {
			return true
		}
	}
	return false
}

// Subscribe returns a channel of notices and what ends the subscription.
// A subscriber slow to read never blocks a job and never misses a job's
// latest state: what it has not taken yet is merged, one notice per job.
func (c *Center) Subscribe() (<-chan Notice, func()) {
	s := &subscriber{out: make(chan Notice), wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	go s.forward()
	var once sync.Once
	return s.out, func() {
		once.Do(func() {
			c.mu.Lock()
			delete(c.subs, s)
			c.mu.Unlock()
			close(s.done)
		})
	}
}

// subscriber holds the notices one subscriber has not taken yet.
type subscriber struct {
	out  chan Notice
	wake chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pending []Notice // at most one per job, and one "changed"
}

func (s *subscriber) push(n Notice) {
	s.mu.Lock()
	merged := false
	for i, p := range s.pending {
		if n.Job != nil && p.Job != nil && p.Job.ID == n.Job.ID || n.Changed && p.Changed {
			s.pending[i], merged = n, true
			break
		}
	}
	if !merged {
		s.pending = append(s.pending, n)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) forward() {
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if len(s.pending) == 0 {
				s.mu.Unlock()
				break
			}
			n := s.pending[0]
			s.pending = s.pending[1:]
			s.mu.Unlock()
			select {
			case s.out <- n:
			case <-s.done:
				return
			}
		}
	}
}

func (c *Center) notifyLocked(n Notice) {
	for s := range c.subs {
		s.push(n)
	}
}

// Wait returns a job once it has ended.
func (c *Center) Wait(ctx context.Context, id string) (Job, error) {
	ch, stop := c.Subscribe()
	defer stop()
	for _, j := range c.Jobs() {
		if j.ID == id && j.ended() {
			return j, nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return Job{}, fmt.Errorf("job %s: %w", id, ctx.Err())
		case n := <-ch:
			if n.Job != nil && n.Job.ID == id && n.Job.ended() {
				return *n.Job, nil
			}
		}
	}
}

func (j *Job) ended() bool { return j.State == Done || j.State == Failed || j.State == Cancelled }

// Changed tells subscribers the items changed (a backend saw it happen).
func (c *Center) Changed() {
	c.mu.Lock()
	c.notifyLocked(Notice{Changed: true})
	c.mu.Unlock()
}

func (c *Center) work(ctx context.Context) {
	defer close(c.worked)
	defer func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-c.queue:
			c.run(ctx, j)
		}
	}
}

// run carries out one job, unless it was cancelled while queued.
func (c *Center) run(ctx context.Context, j *job) {
	c.mu.Lock()
	if j.State != Queued {
		c.mu.Unlock()
		return
	}
	j.State, j.Message = Running, "starting"
	j.last = time.Now()
	c.notifyLocked(Notice{Job: j.copy()})
	c.mu.Unlock()
	jctx, stop := context.WithCancel(j.ctx)
	defer stop()
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-jctx.Done():
		}
	}()
	res, err := c.call(jctx, j.req, func(e Event) { c.progress(j, e) })
	c.mu.Lock()
	if j.flush != nil {
		j.flush.Stop() // the end says it
		j.flush = nil
	}
	j.Ended, j.Result = time.Now(), res
	switch {
	case err != nil && jctx.Err() != nil:
		j.State, j.Error, j.Message = Cancelled, "cancelled", "cancelled; nothing was changed"
	case err != nil:
		j.State, j.Error, j.Message = Failed, err.Error(), "failed; the previous state is kept"
	default:
		j.State, j.Phase, j.Message = Done, "done", "done"
		if res != nil && len(res.Held) > 0 {
			j.Message = fmt.Sprintf("done; %d held back: they ask for new permissions", len(res.Held))
		}
	}
	c.notifyLocked(Notice{Job: j.copy()})
	c.notifyLocked(Notice{Changed: true})
	c.trim()
	c.mu.Unlock()
}

// progress records an event and passes it on at most ten times a second
// per job, the newest state last. A pull reports per object, and an
// install's message changes a dozen times in its 50 ms as the app's and
// the runtime's pulls take turns: each notice is a redraw in every page
// open, and a browser drawing them competes for the CPU with the install
// it shows. What is held back is sent when its tenth of a second is up,
// unless the job's end, sent at once, says it first. Nobody misses a
// state: /api/jobs has the newest at any time.
func (c *Center) progress(j *job, e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	j.Event = e
	if j.flush != nil {
		return // a send is due, and will carry this
	}
	wait := progressEvery - time.Since(j.last)
	if wait <= 0 {
		j.last = time.Now()
		c.notifyLocked(Notice{Job: j.copy()})
		return
	}
	j.flush = time.AfterFunc(wait, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if j.flush == nil || j.finished() {
			return
		}
		j.flush = nil
		j.last = time.Now()
		c.notifyLocked(Notice{Job: j.copy()})
	})
}

// call dispatches a request to its backend.
func (c *Center) call(ctx context.Context, req Request, p Progress) (*Result, error) {
	if req.Run != nil {
		return req.Run(ctx, p)
	}
	switch req.Action {
	case ActRefresh:
		for _, b := range c.backends {
			if req.Item != "" && !strings.HasPrefix(req.Item, b.Name()+"/") {
				continue
			}
			if err := b.Refresh(ctx, p); err != nil {
				return nil, fmt.Errorf("%s: %w", b.Name(), err)
			}
		}
		return nil, nil
	case ActUpdateAll, ActDownload:
		if req.Action == ActDownload && req.Item != "" {
			break
		}
		o := req.Options
		o.DownloadOnly = req.Action == ActDownload
		res := &Result{}
		for _, b := range c.backends {
			if o.DownloadOnly && b.Name() == "os" {
				continue // an OS upgrade's fetch is its check
			}
			r, err := b.Update(ctx, nil, o, p)
			if err != nil && !errors.Is(err, ErrUnsupported) {
				return res, fmt.Errorf("%s: %w", b.Name(), err)
			}
			if r != nil {
				res.Held = append(res.Held, r.Held...)
				res.Warnings = append(res.Warnings, r.Warnings...)
			}
		}
		return res, nil
	}
	b, err := c.backend(req.Item)
	if err != nil {
		return nil, err
	}
	switch req.Action {
	case ActInstall:
		c.waitPrepared(ctx, req.Item, p)
		return b.Install(ctx, req.Item, req.Options, p)
	case ActRemove:
		return b.Remove(ctx, req.Item, p)
	case ActUpdate:
		return b.Update(ctx, []string{req.Item}, req.Options, p)
	case ActDownload:
		o := req.Options
		o.DownloadOnly = true
		return b.Update(ctx, []string{req.Item}, o, p)
	case ActRollback, ActPin, ActUnpin:
		d, ok := b.(Deployer)
		if !ok {
			return nil, fmt.Errorf("%s: %s: %w", req.Item, req.Action, ErrUnsupported)
		}
		if req.Action == ActRollback {
			return d.Rollback(ctx, req.Item, p)
		}
		return d.Pin(ctx, req.Item, req.Index, req.Action == ActPin)
	}
	return nil, fmt.Errorf("unknown action %q", req.Action)
}

// Deployer is a backend whose items keep several deployments, as the OS
// does: it can go back to the previous one and pin one.
type Deployer interface {
	Rollback(ctx context.Context, id string, p Progress) (*Result, error)
	Pin(ctx context.Context, id string, index int, pinned bool) (*Result, error)
}

// Maintain refreshes the catalogue now, then every interval refreshes it
// again and downloads the updates, to be applied when the user says (as
// GNOME Software does in the background), until ctx ends.
func (c *Center) Maintain(ctx context.Context, interval time.Duration) {
	c.Start(Request{Action: ActRefresh})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.Start(Request{Action: ActRefresh})
				c.Start(Request{Action: ActDownload})
			}
		}
	}()
}

// Preparer is a backend that fetches ahead, unasked, what installing an
// item would fetch before it changes anything (apps.Manager.Prepare), so
// that an install pressed after the item's details were read only deploys.
type Preparer interface {
	Prepare(ctx context.Context, id string) error
}

// prepare starts fetching ahead what installing id would, when its
// backend can and no other item is being prepared: a user reads the
// details of one item at a time.
func (c *Center) prepare(b Backend, id string) {
	pr, ok := b.(Preparer)
	if !ok {
		return
	}
	c.mu.Lock()
	if c.preparing != nil || c.closed {
		c.mu.Unlock()
		return
	}
	p := &preparation{item: id, done: make(chan struct{})}
	c.preparing = p
	c.prepWG.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.prepWG.Done()
		defer close(p.done)
		ctx, cancel := context.WithTimeout(c.ctx, prepareFor)
		defer cancel()
		// A failure is the install's to report, should one come: it
		// fetches again what is missing.
		pr.Prepare(ctx, id)
		c.mu.Lock()
		c.preparing = nil
		c.mu.Unlock()
	}()
}

// waitPrepared waits for the preparation of id when one is under way, so
// that the install that follows finds what it fetched rather than
// fetching the same beside it; the wait is said (pr: nil, not).
func (c *Center) waitPrepared(ctx context.Context, id string, pr Progress) {
	c.mu.Lock()
	p := c.preparing
	c.mu.Unlock()
	if p == nil || p.item != id {
		return
	}
	say(pr, Event{Phase: "fetching", Message: "finishing what the details of " + id + " began to fetch"})
	select {
	case <-p.done:
	case <-ctx.Done():
	}
}
